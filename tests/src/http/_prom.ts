/**
 * The real Prometheus text parser from npm (parse-prometheus-text-format),
 * typed, plus a lookup of one sample by its labels.
 */
import parsePrometheusTextFormat from "parse-prometheus-text-format";

/** A metric family as the parser returns it (prom2json's shape). */
export interface ParsedFamily {
  name: string;
  help: string;
  type: "COUNTER" | "GAUGE" | "SUMMARY" | "HISTOGRAM" | "UNTYPED";
  metrics: { value: string; labels?: Record<string, string> }[];
}

/** Parses an exposition text with parse-prometheus-text-format. */
export function parseMetrics(text: string): ParsedFamily[] {
  return (parsePrometheusTextFormat as (text: string) => ParsedFamily[])(text);
}

/** The value of the one sample of `name` whose labels are exactly `labels`, or `undefined`. */
export function sampleOf(
  families: readonly ParsedFamily[],
  name: string,
  labels: Record<string, string>,
): number | undefined {
  const family = families.find((f) => f.name === name);
  const matches = (family?.metrics ?? []).filter((m) => {
    const have = m.labels ?? {};
    const keys = Object.keys(labels);
    return Object.keys(have).length === keys.length && keys.every((k) => have[k] === labels[k]);
  });
  if (matches.length > 1) {
    throw new Error(`${name} has ${matches.length} samples for one label set`);
  }
  return matches.length === 0 ? undefined : Number(matches[0].value);
}
