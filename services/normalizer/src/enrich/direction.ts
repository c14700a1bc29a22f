/** Direction of a flow relative to the organization's home networks. */
export type Direction = 'inbound' | 'outbound' | 'internal' | 'external';

/**
 * inbound: from outside into a home network; outbound: from a home network out; internal: both ends
 * home; external: neither (transit, or traffic the sensor merely saw).
 */
export function flowDirection(srcHome: boolean, dstHome: boolean): Direction {
  if (srcHome) return dstHome ? 'internal' : 'outbound';
  return dstHome ? 'inbound' : 'external';
}
