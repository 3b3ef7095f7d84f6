// A test collector for OTLP over HTTP with JSON: decodes each export with
// the OpenTelemetry project's own types (protobufjs code generated from
// opentelemetry-proto, shipped in @opentelemetry/otlp-transformer), and
// refuses what they do not carry: an export is decoded, encoded as
// protobuf, decoded again and compared with what came, so a misspelt or
// misplaced field, a wrong type or a bad number fails. Prints one JSON
// line per export: {"signal", "headers", "resource", ...}.
//   node collector.mjs PORT
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { opentelemetry } = require(
  '@opentelemetry/otlp-transformer/build/src/generated/root.js');
const types = {
  '/v1/logs': ['logs', opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest],
  '/v1/metrics': ['metrics', opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest],
};

// Keys sorted, so two objects compare by content; an empty list is no
// list, as proto3 has it.
function canonical(v) {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.keys(v).sort()
      .filter((k) => !(Array.isArray(v[k]) && v[k].length === 0))
      .map((k) => [k, canonical(v[k])]));
  return v;
}

function attrs(list) {
  return Object.fromEntries((list || []).map((a) => [a.key, a.value.stringValue]));
}

function summary(signal, msg) {
  if (signal === 'logs') {
    const r = msg.resourceLogs[0];
    return {
      resource: attrs(r.resource.attributes),
      records: r.scopeLogs.flatMap((s) => s.logRecords).map((l) => ({
        time: l.timeUnixNano, severity: l.severityText,
        body: l.body.stringValue, attributes: attrs(l.attributes),
      })),
    };
  }
  const r = msg.resourceMetrics[0];
  const metrics = r.scopeMetrics.flatMap((s) => s.metrics);
  return {
    resource: attrs(r.resource.attributes),
    metrics: Object.fromEntries(metrics.map((m) => {
      const kind = m.sum ? 'sum' : m.gauge ? 'gauge' : m.histogram ? 'histogram' : '?';
      const points = (m.sum || m.gauge || m.histogram || {}).dataPoints || [];
      return [m.name, { kind, points: points.length,
        values: points.map((p) => p.asDouble ?? p.count) }];
    })),
  };
}

const server = http.createServer((req, res) => {
  const route = types[req.url];
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const fail = (why) => {
      console.log(JSON.stringify({ signal: 'refused', path: req.url, why }));
      res.writeHead(400).end(why);
    };
    if (req.method !== 'POST' || !route) return fail(`${req.method} ${req.url}`);
    if (req.headers['content-type'] !== 'application/json')
      return fail(`content-type ${req.headers['content-type']}`);
    const [signal, T] = route;
    let sent;
    try {
      sent = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (e) {
      return fail(`not JSON: ${e.message}`);
    }
    let back;
    try {
      const wire = T.encode(T.fromObject(sent)).finish();
      back = T.toObject(T.decode(wire), { longs: String, enums: Number, json: true });
    } catch (e) {
      return fail(`not an OTLP ${signal} export: ${e.message}`);
    }
    const a = JSON.stringify(canonical(sent)), b = JSON.stringify(canonical(back));
    if (a !== b) {
      let i = 0;
      while (i < a.length && a[i] === b[i]) i++;
      return fail(`fields the OTLP types do not carry as sent, near: ` +
                  `sent ${a.slice(Math.max(0, i - 60), i + 60)} | ` +
                  `decoded ${b.slice(Math.max(0, i - 60), i + 60)}`);
    }
    console.log(JSON.stringify({ signal, headers: req.headers, ...summary(signal, back) }));
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.listen(Number(process.argv[2]), '127.0.0.1');
