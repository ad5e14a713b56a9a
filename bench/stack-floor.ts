/**
 * The floor of the stack the exporter is built on: an exporter that does nothing, on the
 * dependencies the project names (fastify with a pino logger, a prom-client registry) and no code
 * of the exporter's. It serves /-/healthy and /metrics (one gauge, set at every scrape) on
 * 127.0.0.1:$PORT, as the exporter would serve them. bench/footprint.ts bundles it as
 * scripts/release.ts bundles the exporter and measures it beside the exporter: what any exporter
 * on this stack costs before it reads /proc.
 */
import Fastify from 'fastify'
import { Gauge, Registry } from 'prom-client'

const registry = new Registry()
const scrapes = new Gauge({
  name: 'stack_floor_scrapes',
  help: 'Scrapes answered, set at every scrape.',
  registers: [registry],
})
let answered = 0

const app = Fastify({ logger: { level: 'warn' } })
app.get('/-/healthy', () => 'Healthy')
app.get('/metrics', async (_request, reply) => {
  scrapes.set(++answered)
  void reply.type(registry.contentType)
  return registry.metrics()
})
app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) }).catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void app.close().then(() => process.exit(0)))
}
