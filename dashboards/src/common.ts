/**
 * What both dashboards share: the templated data source, job and instance variables, the label
 * matchers every query carries, and panel factories that will not build a panel without a title,
 * a description, a unit and thresholds (Grafana's dashboard-linter rules, and our own habits).
 */
import * as bargaugePanel from '@grafana/grafana-foundation-sdk/bargauge'
import type * as cog from '@grafana/grafana-foundation-sdk/cog'
import {
  BarGaugeDisplayMode,
  BarGaugeNamePlacement,
  BarGaugeSizing,
  BigValueColorMode,
  BigValueGraphMode,
  BigValueJustifyMode,
  BigValueTextMode,
  type DataSourceRef,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  SortOrder,
  TableSortByFieldStateBuilder,
  TooltipDisplayMode,
  VizLegendOptionsBuilder,
  VizOrientation,
  VizTooltipOptionsBuilder,
  VisibilityMode,
} from '@grafana/grafana-foundation-sdk/common'
import {
  AnnotationQueryBuilder,
  CustomVariableBuilder,
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  type DashboardLink,
  DashboardLinkBuilder,
  DashboardLinkType,
  DatasourceVariableBuilder,
  type DataTransformerConfig,
  type DynamicConfigValue,
  FieldColorBuilder,
  FieldColorModeId,
  MappingType,
  type Panel,
  QueryVariableBuilder,
  RowBuilder,
  type Threshold,
  type ThresholdsConfig,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type ValueMapping,
  type VariableModel,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard'
import * as gaugePanel from '@grafana/grafana-foundation-sdk/gauge'
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus'
import * as statPanel from '@grafana/grafana-foundation-sdk/stat'
import * as tablePanel from '@grafana/grafana-foundation-sdk/table'
import * as timeseriesPanel from '@grafana/grafana-foundation-sdk/timeseries'
import { EVENTS } from '../../src/sources/sshd-log/events.ts'

/** The templated Prometheus data source every panel, target and variable uses. */
export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: '${datasource}' }

/** The matchers every selector carries (dashboard-linter's target-job and target-instance rules). */
export const JOB_INSTANCE = 'job=~"$job",instance=~"$instance"'

/** Tag shared by the dashboards, for the dashboard links between them. */
export const TAG = 'sshd-exporter'

/** UIDs, stable so that links and provisioning keep working across regenerations. */
export const FLEET_UID = 'sshd-exporter-fleet'
export const HOST_UID = 'sshd-exporter-host'

/** `metric{job=~"$job",instance=~"$instance",<more>}`. */
export function sel(metric: string, ...more: string[]): string {
  return `${metric}{${[JOB_INSTANCE, ...more].join(',')}}`
}

// The events of sshd_events_total (docs/metrics.md, "Events"), grouped as the panels show them.
export const REFUSAL_EVENTS = [
  'no_more_sessions',
  'startups_dropped',
  'penalty_dropped',
  'max_auth_tries_exceeded',
] as const
export const STARTUP_DROP_EVENTS = [
  'startups_dropped',
  'startups_throttling_started',
  'penalty_dropped',
] as const
export const TIMEOUT_EVENTS = [
  'login_grace_timeout',
  'client_alive_timeout',
  'unused_connection_timeout',
  'channel_timeout',
] as const
export const AUTH_FAILURE_EVENTS = [
  'auth_failed',
  'invalid_user',
  'max_auth_tries_exceeded',
] as const
/** Logins sshd's own policy refused: AllowUsers and the like, PermitRootLogin, RefuseConnection. */
export const POLICY_REFUSAL_EVENTS = [
  'login_not_allowed',
  'root_login_refused',
  'connection_refused',
] as const
/** Pre-auth connection ends with nothing to authenticate: scanners, probes, broken clients. */
export const NOISE_EVENTS = ['preauth_closed', 'negotiation_failed', 'banner_invalid'] as const
/**
 * PerSourcePenalties' penalties by the keyword that imposed them (OpenSSH 9.8+): every
 * `penalty_imposed_*` event the exporter counts, so that a keyword a new OpenSSH adds reaches the
 * panels with its parser.
 */
export const PENALTY_EVENTS = EVENTS.filter((e) => e.startsWith('penalty_imposed_'))

/** The Session duration panels' targets: median, 90th and 99th percentile, and the mean. */
export function sessionDurationQueries(): Array<{ expr: string; legend: string }> {
  const rate = (series: string) =>
    `rate(${sel(`sshd_session_duration_seconds_${series}`)}[$__rate_interval])`
  return [
    ...[0.5, 0.9, 0.99].map((q) => ({
      expr: `histogram_quantile(${q}, sum by (le) (${rate('bucket')}))`,
      legend: `p${q * 100}`,
    })),
    { expr: `sum(${rate('sum')}) / sum(${rate('count')})`, legend: 'mean' },
  ]
}

/** `event=~"a|b|c"`. */
export function events(list: readonly string[]): string {
  return `event=~"${list.join('|')}"`
}

// ---------------------------------------------------------------------------------------------
// Variables

/** The data source, job and instance variables (dashboard-linter's template rules). */
export function variables(opts: {
  instanceIncludeAll: boolean
}): Array<cog.Builder<VariableModel>> {
  const datasource = new DatasourceVariableBuilder('datasource')
    .label('Data source')
    .type('prometheus')
    .description('The Prometheus that scrapes sshd-exporter.')
  const job = new QueryVariableBuilder('job')
    .label('Job')
    .description('Scrape job(s) of sshd-exporter.')
    .datasource(DATASOURCE)
    .query('label_values(sshd_exporter_build_info, job)')
    .definition('label_values(sshd_exporter_build_info, job)')
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.+')
  const instanceQuery = 'label_values(sshd_exporter_build_info{job=~"$job"}, instance)'
  const instance = new QueryVariableBuilder('instance')
    .label('Instance')
    .description('SSH server(s): the exporter targets of the selected jobs.')
    .datasource(DATASOURCE)
    .query(instanceQuery)
    .definition(instanceQuery)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(opts.instanceIncludeAll)
    .allValue('.+')
  return [datasource, job, instance]
}

// ---------------------------------------------------------------------------------------------
// The exporter's live sessions page (/sessions, served with --web.enable-sessions)

/** The variable holding the scheme of the exporter's address: `instance` is host:port only. */
export const SESSIONS_SCHEME = 'sessions_scheme'

/**
 * `sessions_scheme`: http, or https for an exporter serving TLS (--web.config.file). A custom
 * variable rather than a constant, so that a read-only (provisioned) dashboard can still switch
 * it, from the top bar or with `?var-sessions_scheme=https`.
 */
export function sessionsSchemeVariable(): CustomVariableBuilder {
  const option = (value: string, selected: boolean) => ({ text: value, value, selected })
  return new CustomVariableBuilder(SESSIONS_SCHEME)
    .label('Sessions page scheme')
    .description(
      "The scheme of the exporter's address, for the links to its live sessions page: https when the exporter serves TLS (--web.config.file).",
    )
    .values('http,https')
    .current({ text: 'http', value: 'http' })
    .options([option('http', true), option('https', false)])
    .multi(false)
    .includeAll(false)
}

/**
 * Which rows of /sessions a link opens: all connections, those with a stale session
 * (`?stale=1`), or those at MaxSessions (`?at_max=1`).
 */
export type SessionsFilter = 'all' | 'stale' | 'at_max'

/**
 * The scraped exporter's own /sessions page: `instance` is the exporter's host:port. The panels
 * sum their series over instances (no `instance` label is left for `${__field.labels.instance}`),
 * so the link takes the Instance variable: right for the one instance the host view starts on.
 * `:raw`, because Grafana formats a data link's variables with encodeURI by default, which turns
 * an IPv6 instance's brackets (`[2001:db8::1]:9922`) into %5B and %5D: no longer a host.
 */
export function sessionsUrl(filter: SessionsFilter = 'all'): string {
  const query = filter === 'all' ? '' : `?${filter}=1`
  return `\${${SESSIONS_SCHEME}}://\${instance:raw}/sessions${query}`
}

const SESSIONS_TITLES: Record<SessionsFilter, string> = {
  all: 'Live sessions on ${instance}',
  stale: 'Stale sessions on ${instance}',
  at_max: 'Connections at MaxSessions on ${instance}',
}

/** The data link's title: what it opens, and what the exporter needs for it. */
export function sessionsLinkTitle(filter: SessionsFilter = 'all'): string {
  return `${SESSIONS_TITLES[filter]} (needs --web.enable-sessions)`
}

/**
 * A data link (fieldConfig.defaults.links). The SDK types field links as dashboard links, whose
 * other fields (type, tags, includeVars…) a data link has not: build Grafana's DataLink as is.
 */
function dataLink(link: { title: string; url: string; targetBlank: boolean }) {
  return { build: () => link as unknown as DashboardLink }
}

/** The dashboard link to the page, in the top bar beside the links between the dashboards. */
export function sessionsDashboardLink(): DashboardLinkBuilder {
  return new DashboardLinkBuilder('Live sessions')
    .type(DashboardLinkType.Link)
    .url(sessionsUrl())
    .tooltip(`${sessionsLinkTitle()}: one row per SSH connection`)
    .icon('external link')
    .targetBlank(true)
    .includeVars(false)
    .keepTime(false)
    .asDropdown(false)
    .tags([])
}

// ---------------------------------------------------------------------------------------------
// Queries

export interface Query {
  expr: string
  /** Legend, `{{label}}` templates allowed. */
  legend?: string
  /** Instant query (tables, bar gauges of "now"); range otherwise. */
  instant?: boolean
  /** `table` for tables, `heatmap` to turn cumulative `le` buckets into one bar each. */
  format?: 'table' | 'heatmap'
}

function target(q: Query, refId: string): DataqueryBuilder {
  const b = new DataqueryBuilder().datasource(DATASOURCE).refId(refId).expr(q.expr)
  if (q.legend !== undefined) b.legendFormat(q.legend)
  if (q.instant) b.instant()
  else b.range()
  if (q.format === 'table') b.format(PromQueryFormat.Table)
  if (q.format === 'heatmap') b.format(PromQueryFormat.Heatmap)
  return b
}

// ---------------------------------------------------------------------------------------------
// Thresholds, mappings and overrides

export type Color = 'green' | 'orange' | 'red' | 'blue' | 'text' | 'yellow' | 'purple'

/** Steps from a base colour: `levels('green', [1, 'orange'], [10, 'red'])`. */
export function levels(base: Color, ...steps: Array<[number, Color]>): Threshold[] {
  return [{ value: null, color: base }, ...steps.map(([value, color]) => ({ value, color }))]
}

/** `0` and `1` as words (up/down, in sync/reload) with colours. */
export function valueText(map: Record<string, [string, Color]>): ValueMapping[] {
  const options: Record<string, { text: string; color: string; index: number }> = {}
  let index = 0
  for (const [value, [text, color]] of Object.entries(map)) {
    options[value] = { text, color, index: index++ }
  }
  return [{ type: MappingType.ValueToText, options }]
}

/** A series drawn as a dashed red limit line. */
export function limitLine(): DynamicConfigValue[] {
  return [
    { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
    { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
    { id: 'custom.fillOpacity', value: 0 },
  ]
}

export function fixedColor(color: Color): DynamicConfigValue {
  return { id: 'color', value: { mode: 'fixed', fixedColor: color } }
}

// ---------------------------------------------------------------------------------------------
// Panels

interface Common {
  title: string
  /** What it shows and how to read it: Grafana shows it on the panel's (i) icon. */
  description: string
  /** A Grafana unit id (valueFormats/categories.ts). */
  unit: string
  thresholds: Threshold[]
  queries: Query[]
  w: number
  h: number
  min?: number
  max?: number
  decimals?: number
  mappings?: ValueMapping[]
  noValue?: string
  overrides?: Array<{ name?: string; regexp?: string; query?: string; set: DynamicConfigValue[] }>
  /** A data link to the instance's live sessions page, with this filter. */
  sessions?: SessionsFilter
}

/** The methods every SDK panel builder has that `applyCommon` uses. */
interface CommonBuilder {
  title(title: string): this
  description(description: string): this
  datasource(datasource: DataSourceRef): this
  withTarget(target: cog.Builder<cog.Dataquery>): this
  unit(unit: string): this
  thresholds(thresholds: cog.Builder<ThresholdsConfig>): this
  span(w: number): this
  height(h: number): this
  min(min: number): this
  max(max: number): this
  decimals(decimals: number): this
  mappings(mappings: ValueMapping[]): this
  noValue(noValue: string): this
  overrideByName(name: string, properties: DynamicConfigValue[]): this
  overrideByRegexp(regexp: string, properties: DynamicConfigValue[]): this
  overrideByQuery(queryRefId: string, properties: DynamicConfigValue[]): this
  dataLinks(links: Array<cog.Builder<DashboardLink>>): this
}

function applyCommon<B extends CommonBuilder>(b: B, spec: Common): B {
  b.title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .thresholds(new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(spec.thresholds))
    .span(spec.w)
    .height(spec.h)
  spec.queries.forEach((q, i) => b.withTarget(target(q, String.fromCharCode(65 + i))))
  if (spec.min !== undefined) b.min(spec.min)
  if (spec.max !== undefined) b.max(spec.max)
  if (spec.decimals !== undefined) b.decimals(spec.decimals)
  if (spec.mappings !== undefined) b.mappings(spec.mappings)
  if (spec.noValue !== undefined) b.noValue(spec.noValue)
  for (const o of spec.overrides ?? []) {
    if (o.name !== undefined) b.overrideByName(o.name, o.set)
    else if (o.regexp !== undefined) b.overrideByRegexp(o.regexp, o.set)
    else if (o.query !== undefined) b.overrideByQuery(o.query, o.set)
  }
  if (spec.sessions !== undefined) {
    const title = sessionsLinkTitle(spec.sessions)
    b.dataLinks([dataLink({ title, url: sessionsUrl(spec.sessions), targetBlank: true })])
  }
  return b
}

export interface TimeseriesSpec extends Common {
  /** Draw the thresholds as dashed lines (where they are limits worth seeing). */
  showThresholds?: boolean
  stack?: boolean
}

export function timeseries(spec: TimeseriesSpec): timeseriesPanel.PanelBuilder {
  const b = applyCommon(new timeseriesPanel.PanelBuilder(), spec)
    .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.PaletteClassic))
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(VisibilityMode.Never)
    .spanNulls(false)
    .legend(
      new VizLegendOptionsBuilder()
        .displayMode(LegendDisplayMode.Table)
        .placement(LegendPlacement.Bottom)
        .showLegend(true)
        .calcs(['lastNotNull', 'max']),
    )
    .tooltip(
      new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending),
    )
    .thresholdsStyle(
      new GraphThresholdsStyleConfigBuilder().mode(
        spec.showThresholds ? GraphThresholdsStyleMode.Dashed : GraphThresholdsStyleMode.Off,
      ),
    )
  return b
}

export interface StatSpec extends Common {
  /** Show names beside values (several series). */
  names?: boolean
  /** Show only the series' names (a label's value as text, e.g. where the config came from). */
  textOnly?: boolean
  sparkline?: boolean
}

export function stat(spec: StatSpec): statPanel.PanelBuilder {
  return applyCommon(new statPanel.PanelBuilder(), spec)
    .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Thresholds))
    .reduceOptions(lastValue())
    .colorMode(BigValueColorMode.Value)
    .graphMode(spec.sparkline ? BigValueGraphMode.Area : BigValueGraphMode.None)
    .justifyMode(BigValueJustifyMode.Auto)
    .textMode(
      spec.textOnly
        ? BigValueTextMode.Name
        : spec.names
          ? BigValueTextMode.ValueAndName
          : BigValueTextMode.Auto,
    )
    .orientation(VizOrientation.Auto)
}

export function gauge(spec: Common): gaugePanel.PanelBuilder {
  return applyCommon(new gaugePanel.PanelBuilder(), spec)
    .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Thresholds))
    .reduceOptions(lastValue())
    .showThresholdMarkers(true)
    .showThresholdLabels(false)
}

export function bargauge(spec: Common): bargaugePanel.PanelBuilder {
  return applyCommon(new bargaugePanel.PanelBuilder(), spec)
    .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Thresholds))
    .reduceOptions(lastValue())
    .displayMode(BarGaugeDisplayMode.Gradient)
    .orientation(VizOrientation.Horizontal)
    .namePlacement(BarGaugeNamePlacement.Auto)
    .sizing(BarGaugeSizing.Auto)
    .showUnfilled(true)
}

export interface TableSpec extends Common {
  transformations: DataTransformerConfig[]
  sortBy?: { column: string; desc: boolean }
}

export function table(spec: TableSpec): tablePanel.PanelBuilder {
  const b = applyCommon(new tablePanel.PanelBuilder(), spec).transformations(spec.transformations)
  if (spec.sortBy) {
    b.sortBy([
      new TableSortByFieldStateBuilder().displayName(spec.sortBy.column).desc(spec.sortBy.desc),
    ])
  }
  return b
}

function lastValue(): ReduceDataOptionsBuilder {
  return new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false).fields('')
}

// ---------------------------------------------------------------------------------------------
// Dashboards

export interface Row {
  title: string
  panels: Array<cog.Builder<Panel>>
}

export function dashboard(opts: {
  uid: string
  title: string
  description: string
  instanceIncludeAll: boolean
  rows: Row[]
  /** Variables after the data source, job and instance. */
  moreVariables?: Array<cog.Builder<VariableModel>>
  /** Links after the one to the other dashboards. */
  moreLinks?: DashboardLinkBuilder[]
}): Dashboard {
  const b = new DashboardBuilder(opts.title)
    .uid(opts.uid)
    .description(opts.description)
    .tags([TAG, 'sshd', 'ssh'])
    .readonly()
    .tooltip(DashboardCursorSync.Crosshair)
    .timezone('browser')
    .time({ from: 'now-6h', to: 'now' })
    .refresh('1m')
    // Grafana's own annotations (and alert state changes), as a dashboard saved by Grafana has.
    .annotation(
      new AnnotationQueryBuilder()
        .name('Annotations & Alerts')
        .datasource({ type: 'grafana', uid: '-- Grafana --' })
        .builtIn(1)
        .type('dashboard')
        .enable(true)
        .hide(true)
        .iconColor('rgba(0, 211, 255, 1)'),
    )
    .link(
      new DashboardLinkBuilder('sshd-exporter dashboards')
        .type(DashboardLinkType.Dashboards)
        .tags([TAG])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    )
  for (const link of opts.moreLinks ?? []) b.link(link)
  for (const v of variables({ instanceIncludeAll: opts.instanceIncludeAll })) {
    b.withVariable(v)
  }
  for (const v of opts.moreVariables ?? []) b.withVariable(v)
  for (const row of opts.rows) {
    b.withRow(new RowBuilder(row.title))
    for (const panel of row.panels) b.withPanel(panel)
  }
  const built = b.build()
  // The SDK's default placement ("inControlsMenu") hides links and annotation toggles in a menu
  // in Grafana 12, and older Grafana does not know it: leave it out, for the usual top bar.
  for (const link of built.links ?? []) delete link.placement
  for (const annotation of built.annotations.list ?? []) delete annotation.placement
  // Stable ids in layout order (Grafana would otherwise number them on load).
  let id = 1
  for (const panel of built.panels ?? []) panel.id = id++
  return built
}
