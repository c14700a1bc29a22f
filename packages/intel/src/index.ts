// Threat intelligence: feeds (STIX 2.1, MISP, lists), warning lists, and the indicator index. Hand-written public surface.
export { INTEL_ERROR_CODES, IntelError, type IntelErrorCode } from './errors.ts';
export { parseList, parseMispFeed, parseStixBundle, type FeedDefaults } from './feeds.ts';
export { IndicatorIndex, type IndicatorIndexOptions, type IndicatorMatch, type SuppressionStats } from './indicator-index.ts';
export { BlockedBloom, hashReverse, hashString, mix32 } from './prefilter.ts';
export { formatCidr, formatWords, parseCidr, parseIp, type Cidr, type IpWords } from './ip.ts';
export { classifyValue, normalizeDomain, normalizeUrl, normalizeValue, requestUrlKey } from './normalize.ts';
export { PrefixTrie } from './prefix-trie.ts';
export { parseStixPattern, PatternError, type Comparison, type PatternDnf } from './stix-pattern.ts';
export { DEFAULT_FETCH_LIMITS, IntelStore, indicatorKey, readSource, type FeedSpec, type FetchLimits, type IntelStoreOptions, type RefreshReport } from './store.ts';
export { INDICATOR_KINDS, isActive, makeIndicator, type Indicator, type IndicatorKind, type ParsedFeed, type Unsupported } from './types.ts';
export { WarningLists, type MispWarningList } from './warning-lists.ts';
