package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.HashMap;
import java.util.Map;

/**
 * Paddock's Java example, for java21 and java25 (Handler example.Echo::handleRequest),
 * written as any Lambda function is, on AWS's own runtime client. It answers with its
 * event and what the runtime told it; {"error": "..."} makes it fail, {"crash": true}
 * crash, {"sleepMs": 5000} wait.
 */
public class Echo implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        if (event.containsKey("error")) {
            throw new IllegalArgumentException(String.valueOf(event.get("error")));
        }
        if (Boolean.TRUE.equals(event.get("crash"))) {
            Runtime.getRuntime().halt(3);
        }
        if (event.get("sleepMs") instanceof Number ms) {
            try {
                Thread.sleep(ms.longValue());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Map<String, Object> out = new HashMap<>();
        out.put("event", event);
        out.put("requestId", context.getAwsRequestId());
        out.put("functionArn", context.getInvokedFunctionArn());
        out.put("memoryLimitInMB", context.getMemoryLimitInMB());
        out.put("remainingMs", context.getRemainingTimeInMillis());
        out.put("pid", ProcessHandle.current().pid());
        out.put("thread", Thread.currentThread().getName());
        out.put("java", Runtime.version().feature());
        context.getLogger().log("echoed " + event);
        return out;
    }
}
