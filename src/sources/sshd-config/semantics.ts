// How each OpenSSH version reads sshd_config differently, for the keywords behind
// EffectiveConfig. semanticsFor(version) gives one version's rules: OpenSSH 8.2's, then each
// row of SEMANTICS_CHANGES up to that version. An unknown or missing version gets the newest
// rules (NEWEST_RESEARCHED_OPENSSH; the caller should say it guessed), one older than 8.2 8.2's.
// What each row means, with sources: docs/openssh.md, "Reading sshd_config, version by version".

/** misc.c convtime: 8.2-8.3 keep the unit of an earlier number; strtol: blanks and a sign. */
export type SshdTimeSyntax = 'strtol-sticky-unit' | 'strtol' | 'digits' | 'decimal'

/** How one OpenSSH version reads the keywords behind EffectiveConfig (servconf.c, misc.c). */
export type SshdConfigSemantics = {
  time: SshdTimeSyntax
  /** Keywords of ours this version does not know: sshd refuses to start with them. */
  unknownKeywords: readonly string[]
  maxStartupsFirstWins: boolean
  /** `MaxStartups N`: N:rate-so-far:N, begin left at its default (10):30:N, or N:30:N. */
  maxStartupsOneNumber: 'keep-rate' | 'default-begin' | 'begin-and-full'
  /** A begin or full of 0 or less is refused (accepted before 9.2; -1 means unset). */
  maxStartupsPositive: boolean
  perSourceFirstWins: boolean
  /** `ChannelTimeout` with no value (only a comment) is refused, else ignored. */
  channelTimeoutNeedsValue: boolean
  /** A relative Include names `<sshdir>/<the keyword as written>` (8.2's bug). */
  includeRelativeToKeyword: boolean
  /** Each included file's end binds the ListenAddresses so far, adding Port 22 if none. */
  includeEndBindsListenAddresses: boolean
  /** Match blocks of a file included outside Match never apply per connection. */
  includedMatchGlobalOnly: boolean
  /** `Match invalid-user` and `Match Version` are known. */
  matchInvalidUser: boolean
  matchVersion: boolean
}

const OLDEST_SEMANTICS: SshdConfigSemantics = {
  time: 'strtol-sticky-unit',
  unknownKeywords: ['persourcemaxstartups', 'unusedconnectiontimeout', 'channeltimeout'],
  maxStartupsFirstWins: false,
  maxStartupsOneNumber: 'keep-rate',
  maxStartupsPositive: false,
  perSourceFirstWins: false,
  channelTimeoutNeedsValue: false,
  includeRelativeToKeyword: true,
  includeEndBindsListenAddresses: true,
  includedMatchGlobalOnly: true,
  matchInvalidUser: false,
  matchVersion: false,
}

/**
 * The rules of OpenSSH 8.2 (OLDEST_SEMANTICS), then each version that changed one, oldest
 * first. Read at every release tag from V_8_2_P1 to V_10_5_P1 (docs/openssh.md).
 */
const SEMANTICS_CHANGES: readonly (readonly [since: string, Partial<SshdConfigSemantics>])[] = [
  // servconf.c at V_8_3_P1, case sInclude: "%s/%s", SSHDIR, arg2 (8.2 used arg: the keyword)
  ['8.3', { includeRelativeToKeyword: false }],
  // misc.c at V_8_4_P1, convtime: the multiplier is reset for each number; servconf.c at
  // V_8_4_P1: process_queued_listen_addrs only once (parse_server_config), and an Include
  // outside Match passes SSHCFG_MATCH_ONLY instead of SSHCFG_NEVERMATCH (bz#3122)
  [
    '8.4',
    { time: 'strtol', includeEndBindsListenAddresses: false, includedMatchGlobalOnly: false },
  ],
  // servconf.c at V_8_5_P1: keyword persourcemaxstartups (the last wins: if (*activep))
  ['8.5', { unknownKeywords: ['unusedconnectiontimeout', 'channeltimeout'] }],
  // servconf.c at V_9_2_P1: keywords channeltimeout, unusedconnectiontimeout; case
  // sMaxStartups refuses max_startups <= 0 || max_startups_begin <= 0
  ['9.2', { unknownKeywords: [], maxStartupsPositive: true }],
  // servconf.c at V_9_5_P1, case sPerSourceMaxStartups: per_source_max_startups == -1
  ['9.5', { perSourceFirstWins: true }],
  // servconf.c at V_9_7_P1, case sChannelTimeout: fatal "no %s specified" when nstrs == 0
  ['9.7', { channelTimeoutNeedsValue: true }],
  // misc.c at V_9_8_P1, convtime: scandigits + strtonum (no blanks, no sign)
  ['9.8', { time: 'digits' }],
  // servconf.c at V_9_9_P1, match_cfg_line: invalid-user. (`User=bob` works in every version
  // but 9.9p1: strdelim split it at `=` up to 9.8, argv_next does not, V_9_9_P2 strprefix.)
  ['9.9', { matchInvalidUser: true }],
  // servconf.c at V_10_0_P1, match_cfg_line: version (against SSH_RELEASE)
  ['10.0', { matchVersion: true }],
  // servconf.c at V_10_1_P1, case sMaxStartups: *activep && max_startups == -1; one number:
  // value3 = value; value = value2 = -1
  ['10.1', { maxStartupsFirstWins: true, maxStartupsOneNumber: 'default-begin' }],
  // servconf.c at V_10_3_P1, case sMaxStartups: one number: value3 = value; value2 = -1;
  // misc.c at V_10_3_P1: convtime via convtime_double (decimal seconds, truncated)
  ['10.3', { maxStartupsOneNumber: 'begin-and-full', time: 'decimal' }],
  // 10.4 (servconf.h SSHD_CONFIG_ENTRIES) and 10.5 change how sshd -T spells keys (mixed
  // case), not what the files mean.
]

/** The newest release whose servconf.c was read for SEMANTICS_CHANGES. */
export const NEWEST_RESEARCHED_OPENSSH = '10.5'

function versionNumbers(version: string | null | undefined): [number, number] | null {
  const m = /(\d+)\.(\d+)/.exec(version ?? '')
  return m === null ? null : [Number(m[1]), Number(m[2])]
}

function atLeast([a, b]: [number, number], [c, d]: [number, number]): boolean {
  return a > c || (a === c && b >= d)
}

/**
 * The rules of OpenSSH `version` (`10.2`, `10.0p2`, `OpenSSH_9.2p1`); the newest rules when
 * it is unknown or missing (the caller says so), the oldest (8.2) for anything older.
 */
export function semanticsFor(version?: string | null): SshdConfigSemantics {
  const wanted = versionNumbers(version)
  let semantics = OLDEST_SEMANTICS
  for (const [since, changes] of SEMANTICS_CHANGES) {
    if (wanted !== null && !atLeast(wanted, versionNumbers(since)!)) break
    semantics = { ...semantics, ...changes }
  }
  return semantics
}

export const NEWEST_SEMANTICS = semanticsFor(null)
