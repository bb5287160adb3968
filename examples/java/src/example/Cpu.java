package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.HashMap;
import java.util.Map;

/** Counts the primes below n (Handler example.Cpu::handleRequest), a CPU-bound handler. */
public class Cpu implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        int n = event.get("n") instanceof Number v ? v.intValue() : 200000;
        int count = 0;
        for (int i = 2; i < n; i++) {
            boolean prime = true;
            for (int d = 2; (long) d * d <= i; d++) {
                if (i % d == 0) {
                    prime = false;
                    break;
                }
            }
            if (prime) {
                count++;
            }
        }
        Map<String, Object> out = new HashMap<>();
        out.put("n", n);
        out.put("primes", count);
        out.put("thread", Thread.currentThread().getName());
        return out;
    }
}
