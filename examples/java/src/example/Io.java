package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.HashMap;
import java.util.Map;

/**
 * Waits as an I/O-bound handler does (Handler example.Io::handleRequest): on Lambda
 * Managed Instances each concurrent request has an OS thread of its own.
 */
public class Io implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        long started = System.currentTimeMillis();
        long ms = event.get("ms") instanceof Number n ? n.longValue() : 200;
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Map<String, Object> out = new HashMap<>();
        out.put("pid", ProcessHandle.current().pid());
        out.put("thread", Thread.currentThread().getName());
        out.put("started", started);
        out.put("ended", System.currentTimeMillis());
        return out;
    }
}
