/**
 * How a field's bytes are read: `u` unsigned big-endian integer (any length 1..8, so reduced-size
 * encoding works), `ipv4`/`ipv6` addresses, `mac` addresses, `string` UTF-8 text, `ntp` NTP-format
 * timestamps (dateTimeMicroseconds/Nanoseconds), `bytes` kept as hex.
 */
export type IeType = 'u' | 'ipv4' | 'ipv6' | 'mac' | 'string' | 'ntp' | 'bytes';

/** A known information element: its IANA name (also the key in `FlowRecord.fields`) and its type. */
export interface InformationElement {
  readonly name: string;
  readonly type: IeType;
}

// IANA "IPFIX Information Elements" registry (RFC 7012 and later); NetFlow v9 field types 1-127
// share these numbers (RFC 3954 section 8).
const IANA: ReadonlyArray<readonly [number, string, IeType]> = [
  [1, 'octetDeltaCount', 'u'], [2, 'packetDeltaCount', 'u'], [3, 'deltaFlowCount', 'u'], [4, 'protocolIdentifier', 'u'],
  [5, 'ipClassOfService', 'u'], [6, 'tcpControlBits', 'u'], [7, 'sourceTransportPort', 'u'], [8, 'sourceIPv4Address', 'ipv4'],
  [9, 'sourceIPv4PrefixLength', 'u'], [10, 'ingressInterface', 'u'], [11, 'destinationTransportPort', 'u'],
  [12, 'destinationIPv4Address', 'ipv4'], [13, 'destinationIPv4PrefixLength', 'u'], [14, 'egressInterface', 'u'],
  [15, 'ipNextHopIPv4Address', 'ipv4'], [16, 'bgpSourceAsNumber', 'u'], [17, 'bgpDestinationAsNumber', 'u'],
  [18, 'bgpNextHopIPv4Address', 'ipv4'], [19, 'postMCastPacketDeltaCount', 'u'], [20, 'postMCastOctetDeltaCount', 'u'],
  [21, 'flowEndSysUpTime', 'u'], [22, 'flowStartSysUpTime', 'u'], [23, 'postOctetDeltaCount', 'u'], [24, 'postPacketDeltaCount', 'u'],
  [25, 'minimumIpTotalLength', 'u'], [26, 'maximumIpTotalLength', 'u'], [27, 'sourceIPv6Address', 'ipv6'],
  [28, 'destinationIPv6Address', 'ipv6'], [29, 'sourceIPv6PrefixLength', 'u'], [30, 'destinationIPv6PrefixLength', 'u'],
  [31, 'flowLabelIPv6', 'u'], [32, 'icmpTypeCodeIPv4', 'u'], [33, 'igmpType', 'u'], [34, 'samplingInterval', 'u'],
  [35, 'samplingAlgorithm', 'u'], [36, 'flowActiveTimeout', 'u'], [37, 'flowIdleTimeout', 'u'], [38, 'engineType', 'u'],
  [39, 'engineId', 'u'], [40, 'exportedOctetTotalCount', 'u'], [41, 'exportedMessageTotalCount', 'u'],
  [42, 'exportedFlowRecordTotalCount', 'u'], [44, 'sourceIPv4Prefix', 'ipv4'], [45, 'destinationIPv4Prefix', 'ipv4'],
  [46, 'mplsTopLabelType', 'u'], [47, 'mplsTopLabelIPv4Address', 'ipv4'], [48, 'samplerId', 'u'], [49, 'samplerMode', 'u'],
  [50, 'samplerRandomInterval', 'u'], [52, 'minimumTTL', 'u'], [53, 'maximumTTL', 'u'], [54, 'fragmentIdentification', 'u'],
  [55, 'postIpClassOfService', 'u'], [56, 'sourceMacAddress', 'mac'], [57, 'postDestinationMacAddress', 'mac'],
  [58, 'vlanId', 'u'], [59, 'postVlanId', 'u'], [60, 'ipVersion', 'u'], [61, 'flowDirection', 'u'],
  [62, 'ipNextHopIPv6Address', 'ipv6'], [63, 'bgpNextHopIPv6Address', 'ipv6'], [64, 'ipv6ExtensionHeaders', 'u'],
  [70, 'mplsTopLabelStackSection', 'bytes'], [80, 'destinationMacAddress', 'mac'], [81, 'postSourceMacAddress', 'mac'],
  [82, 'interfaceName', 'string'], [83, 'interfaceDescription', 'string'], [85, 'octetTotalCount', 'u'],
  [86, 'packetTotalCount', 'u'], [88, 'fragmentOffset', 'u'], [89, 'forwardingStatus', 'u'], [90, 'mplsVpnRouteDistinguisher', 'bytes'],
  [94, 'applicationDescription', 'string'], [95, 'applicationId', 'bytes'], [96, 'applicationName', 'string'],
  [98, 'postIpDiffServCodePoint', 'u'], [128, 'bgpNextAdjacentAsNumber', 'u'], [129, 'bgpPrevAdjacentAsNumber', 'u'],
  [130, 'exporterIPv4Address', 'ipv4'], [131, 'exporterIPv6Address', 'ipv6'], [136, 'flowEndReason', 'u'],
  [138, 'observationPointId', 'u'], [139, 'icmpTypeCodeIPv6', 'u'], [143, 'meteringProcessId', 'u'], [144, 'exportingProcessId', 'u'],
  [148, 'flowId', 'u'], [149, 'observationDomainId', 'u'], [150, 'flowStartSeconds', 'u'], [151, 'flowEndSeconds', 'u'],
  [152, 'flowStartMilliseconds', 'u'], [153, 'flowEndMilliseconds', 'u'], [154, 'flowStartMicroseconds', 'ntp'],
  [155, 'flowEndMicroseconds', 'ntp'], [156, 'flowStartNanoseconds', 'ntp'], [157, 'flowEndNanoseconds', 'ntp'],
  [158, 'flowStartDeltaMicroseconds', 'u'], [159, 'flowEndDeltaMicroseconds', 'u'], [160, 'systemInitTimeMilliseconds', 'u'],
  [161, 'flowDurationMilliseconds', 'u'], [162, 'flowDurationMicroseconds', 'u'], [176, 'icmpTypeIPv4', 'u'],
  [177, 'icmpCodeIPv4', 'u'], [178, 'icmpTypeIPv6', 'u'], [179, 'icmpCodeIPv6', 'u'], [180, 'udpSourcePort', 'u'],
  [181, 'udpDestinationPort', 'u'], [182, 'tcpSourcePort', 'u'], [183, 'tcpDestinationPort', 'u'], [192, 'ipTTL', 'u'],
  [195, 'ipDiffServCodePoint', 'u'], [225, 'postNATSourceIPv4Address', 'ipv4'], [226, 'postNATDestinationIPv4Address', 'ipv4'],
  [227, 'postNAPTSourceTransportPort', 'u'], [228, 'postNAPTDestinationTransportPort', 'u'], [231, 'initiatorOctets', 'u'],
  [232, 'responderOctets', 'u'], [233, 'firewallEvent', 'u'], [234, 'ingressVRFID', 'u'], [235, 'egressVRFID', 'u'],
  [239, 'biflowDirection', 'u'], [281, 'postNATSourceIPv6Address', 'ipv6'], [282, 'postNATDestinationIPv6Address', 'ipv6'],
  [298, 'initiatorPackets', 'u'], [299, 'responderPackets', 'u'], [302, 'selectorId', 'u'], [304, 'selectorAlgorithm', 'u'],
  [305, 'samplingPacketInterval', 'u'], [306, 'samplingPacketSpace', 'u'], [323, 'observationTimeMilliseconds', 'u'],
  [351, 'layer2SegmentId', 'u'], [352, 'layer2OctetDeltaCount', 'u'],
];

// Cisco's NetFlow v9 field types above 32767 (ASA NSEL); only meaningful in v9 packets.
const CISCO_V9: ReadonlyArray<readonly [number, string, IeType]> = [
  [33000, 'ciscoIngressAclId', 'bytes'], [33001, 'ciscoEgressAclId', 'bytes'], [33002, 'ciscoFwExtEvent', 'u'],
  [40000, 'ciscoUsername', 'string'], [40001, 'ciscoXlateSrcAddrIPv4', 'ipv4'], [40002, 'ciscoXlateDstAddrIPv4', 'ipv4'],
  [40003, 'ciscoXlateSrcPort', 'u'], [40004, 'ciscoXlateDstPort', 'u'], [40005, 'ciscoFwEvent', 'u'],
];

function table(rows: ReadonlyArray<readonly [number, string, IeType]>): Map<number, InformationElement> {
  return new Map(rows.map(([id, name, type]) => [id, { name, type }]));
}

const IANA_TABLE = table(IANA);
const V9_TABLE = new Map([...IANA_TABLE, ...table(CISCO_V9)]);

/** The element for an IANA id (pen 0), as a v9 field type when `v9`; undefined when unknown. */
export function informationElement(id: number, pen: number, v9: boolean): InformationElement | undefined {
  if (pen !== 0) return undefined;
  return (v9 ? V9_TABLE : IANA_TABLE).get(id);
}

/** Number of known elements (docs and tests). */
export const KNOWN_ELEMENT_COUNT = IANA.length;
