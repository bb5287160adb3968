// The handler of the Java client test (clients_test.go).
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.io.File;
import java.util.HashMap;
import java.util.Map;

public class Handler implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    // barrier waits until want invokes have arrived in dir; returns how many it saw.
    private static int barrier(String dir, String n, int want) throws Exception {
        File d = new File(dir);
        d.mkdirs();
        new File(d, n).createNewFile();
        long end = System.currentTimeMillis() + 20000;
        int seen = 0;
        while (System.currentTimeMillis() < end) {
            String[] names = d.list();
            seen = names == null ? 0 : names.length;
            if (seen >= want) {
                break;
            }
            Thread.sleep(20);
        }
        return seen;
    }

    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        String n = String.valueOf(event.get("n"));
        context.getLogger().log("handling " + n);
        if (Boolean.TRUE.equals(event.get("fail"))) {
            throw new IllegalArgumentException("bad " + n);
        }
        int seen = 0;
        try {
            if (event.get("dir") != null) {
                seen = barrier((String) event.get("dir"), n, ((Number) event.get("want")).intValue());
            }
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
        Map<String, Object> out = new HashMap<>();
        out.put("n", event.get("n"));
        out.put("seen", seen);
        out.put("requestId", context.getAwsRequestId());
        out.put("arn", context.getInvokedFunctionArn());
        out.put("remaining", context.getRemainingTimeInMillis());
        out.put("pid", ProcessHandle.current().pid());
        out.put("worker", Thread.currentThread().getName());
        return out;
    }
}
