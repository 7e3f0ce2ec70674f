package org.ecgnet.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON reader (RFC 8259 subset that covers what export.golden writes, plus string escapes).
 * Objects become {@code LinkedHashMap<String,Object>}, arrays {@code ArrayList<Object>}, numbers
 * {@code Double}, and true/false/null {@code Boolean}/null. Numbers are parsed with
 * {@link Double#parseDouble}, so the repr() floats Python writes round-trip exactly.
 */
public final class Json {
    private final String s;
    private int i;

    private Json(String s) {
        this.s = s;
    }

    /** Parses a complete JSON document. */
    public static Object parse(String text) {
        Json p = new Json(text);
        p.ws();
        Object v = p.value();
        p.ws();
        if (p.i != p.s.length()) {
            throw p.error("trailing characters");
        }
        return v;
    }

    private IllegalArgumentException error(String msg) {
        return new IllegalArgumentException("JSON: " + msg + " at offset " + i);
    }

    private void ws() {
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                i++;
            } else {
                break;
            }
        }
    }

    private Object value() {
        if (i >= s.length()) {
            throw error("unexpected end");
        }
        char c = s.charAt(i);
        switch (c) {
            case '{':
                return object();
            case '[':
                return array();
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                return number();
        }
    }

    private Object literal(String word, Object v) {
        if (!s.startsWith(word, i)) {
            throw error("unexpected token");
        }
        i += word.length();
        return v;
    }

    private Map<String, Object> object() {
        Map<String, Object> m = new LinkedHashMap<>();
        i++;
        ws();
        if (peek() == '}') {
            i++;
            return m;
        }
        while (true) {
            ws();
            if (peek() != '"') {
                throw error("expected a key");
            }
            String k = string();
            ws();
            expect(':');
            ws();
            m.put(k, value());
            ws();
            char c = next();
            if (c == '}') {
                return m;
            }
            if (c != ',') {
                throw error("expected , or }");
            }
        }
    }

    private List<Object> array() {
        List<Object> a = new ArrayList<>();
        i++;
        ws();
        if (peek() == ']') {
            i++;
            return a;
        }
        while (true) {
            ws();
            a.add(value());
            ws();
            char c = next();
            if (c == ']') {
                return a;
            }
            if (c != ',') {
                throw error("expected , or ]");
            }
        }
    }

    private String string() {
        expect('"');
        StringBuilder b = new StringBuilder();
        while (true) {
            char c = next();
            if (c == '"') {
                return b.toString();
            }
            if (c == '\\') {
                char e = next();
                switch (e) {
                    case 'n': b.append('\n'); break;
                    case 't': b.append('\t'); break;
                    case 'r': b.append('\r'); break;
                    case 'b': b.append('\b'); break;
                    case 'f': b.append('\f'); break;
                    case 'u':
                        if (i + 4 > s.length()) {
                            throw error("bad \\u escape");
                        }
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                        break;
                    default: b.append(e);
                }
            } else {
                b.append(c);
            }
        }
    }

    private Double number() {
        int start = i;
        while (i < s.length()) {
            char c = s.charAt(i);
            if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
                i++;
            } else {
                break;
            }
        }
        String t = s.substring(start, i);
        // Python's json writes NaN / Infinity for non-finite floats
        if (t.isEmpty()) {
            if (s.startsWith("NaN", i)) {
                i += 3;
                return Double.NaN;
            }
            if (s.startsWith("Infinity", i)) {
                i += 8;
                return Double.POSITIVE_INFINITY;
            }
            throw error("unexpected character '" + s.charAt(i) + "'");
        }
        if (t.equals("-") && s.startsWith("Infinity", i)) {
            i += 8;
            return Double.NEGATIVE_INFINITY;
        }
        try {
            return Double.parseDouble(t);
        } catch (NumberFormatException ex) {
            throw error("bad number " + t);
        }
    }

    private char peek() {
        if (i >= s.length()) {
            throw error("unexpected end");
        }
        return s.charAt(i);
    }

    private char next() {
        char c = peek();
        i++;
        return c;
    }

    private void expect(char c) {
        if (next() != c) {
            throw error("expected '" + c + "'");
        }
    }

    // ---- typed accessors ----------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    public static Map<String, Object> obj(Object o, String key) {
        Object v = ((Map<String, Object>) o).get(key);
        if (!(v instanceof Map)) {
            throw new IllegalArgumentException("JSON: '" + key + "' is not an object");
        }
        return (Map<String, Object>) v;
    }

    /** The value at {@code key} (null when absent or JSON null). */
    @SuppressWarnings("unchecked")
    public static Object get(Object o, String key) {
        return ((Map<String, Object>) o).get(key);
    }

    @SuppressWarnings("unchecked")
    public static boolean has(Object o, String key) {
        return ((Map<String, Object>) o).get(key) != null;
    }

    public static double num(Object o, String key) {
        Object v = get(o, key);
        if (!(v instanceof Double)) {
            throw new IllegalArgumentException("JSON: '" + key + "' is not a number");
        }
        return (Double) v;
    }

    public static int integer(Object o, String key) {
        double d = num(o, key);
        if (d != Math.rint(d)) {
            throw new IllegalArgumentException("JSON: '" + key + "' is not an integer");
        }
        return (int) d;
    }

    public static String str(Object o, String key) {
        Object v = get(o, key);
        return v == null ? null : v.toString();
    }

    @SuppressWarnings("unchecked")
    public static List<Object> list(Object o) {
        if (!(o instanceof List)) {
            throw new IllegalArgumentException("JSON: expected an array");
        }
        return (List<Object>) o;
    }

    public static double[] doubles(Object arr) {
        List<Object> l = list(arr);
        double[] out = new double[l.size()];
        for (int k = 0; k < out.length; k++) {
            out[k] = (Double) l.get(k);
        }
        return out;
    }

    public static int[] ints(Object arr) {
        List<Object> l = list(arr);
        int[] out = new int[l.size()];
        for (int k = 0; k < out.length; k++) {
            out[k] = (int) Math.round((Double) l.get(k));
        }
        return out;
    }

    public static double[][] matrix(Object arr) {
        List<Object> l = list(arr);
        double[][] out = new double[l.size()][];
        for (int k = 0; k < out.length; k++) {
            out[k] = doubles(l.get(k));
        }
        return out;
    }

    public static List<String> strings(Object arr) {
        List<String> out = new ArrayList<>();
        for (Object o : list(arr)) {
            out.add(o.toString());
        }
        return out;
    }

    /**
     * Checks that the {@code "features"} list of a config section is {@code ported}, in order.
     *
     * @throws IllegalArgumentException naming {@code what} and both lists otherwise
     */
    public static void requireFeatures(Object spec, String[] ported, String what) {
        List<String> names = strings(get(spec, "features"));
        if (!names.equals(java.util.Arrays.asList(ported))) {
            throw new IllegalArgumentException(what + " " + names + " are not the ported ones "
                    + java.util.Arrays.toString(ported));
        }
    }
}
