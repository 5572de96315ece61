/**
 * `provision verify` calls an exporter healthy only when its metrics are current: broker_uptime must increase between
 * two scrapes (an exporter that lost its broker keeps serving the last values it got).
 */
import { describe, expect, it } from 'vitest';
import { exporterMetricsCurrent, metricValue } from '../../../src/health/http-metrics.js';

const BODY = ['# HELP broker_uptime ...', '# TYPE broker_uptime counter', 'broker_uptime 1234', 'broker_clients_connected{listener="x"} 3', 'broker_bytes_received 9.5e+06', ''].join('\n');

/** A scrape that answers the given uptimes in turn; `sleep` only counts (nothing waits). */
function sequence(values: number[]) {
  let i = 0;
  const slept: number[] = [];
  return { scrape: async () => values[Math.min(i++, values.length - 1)]!, sleep: async (ms: number) => void slept.push(ms), slept, scrapes: () => i };
}

describe('metricValue', () => {
  it('reads a sample with or without labels, in Prometheus text format; undefined when absent', () => {
    expect(metricValue(BODY, 'broker_uptime')).toBe(1234);
    expect(metricValue(BODY, 'broker_clients_connected')).toBe(3);
    expect(metricValue(BODY, 'broker_bytes_received')).toBe(9_500_000);
    expect(metricValue(BODY, 'broker_uptim')).toBeUndefined();
    expect(metricValue(BODY, 'broker_messages_sent')).toBeUndefined();
  });
});

describe('exporterMetricsCurrent', () => {
  it('passes once broker_uptime increased, saying from what to what', async () => {
    const s = sequence([100, 100, 110]);
    await expect(exporterMetricsCurrent(s.scrape, { withinMs: 15_000, sleep: s.sleep })).resolves.toBe('broker_uptime 100 → 110 s');
    expect(s.scrapes()).toBe(3);
  });

  it('fails when broker_uptime stays the same for the whole window (a disconnected exporter serving old values)', async () => {
    const s = sequence([100]);
    await expect(exporterMetricsCurrent(s.scrape, { withinMs: 15_000, sleep: s.sleep })).rejects.toThrow(
      'stale metrics: broker_uptime stayed at 100 s for 15 s (is the exporter still connected to the broker?)',
    );
    expect(s.slept.reduce((a, b) => a + b, 0)).toBe(15_000);
  });

  it('a scrape that fails fails the check with its own message', async () => {
    await expect(exporterMetricsCurrent(async () => Promise.reject(new Error('exporter answered HTTP 503')), { withinMs: 1000, sleep: async () => undefined })).rejects.toThrow('exporter answered HTTP 503');
  });
});
