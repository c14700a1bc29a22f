import { cefFormat } from './cef/index.ts';
import { netflowFlowFormat } from './netflow/index.ts';
import { syslogFormat } from './syslog/index.ts';
import type { SensorFormat } from './types.ts';
import { suricataEveFormat } from './suricata-eve/index.ts';
import { windowsEventFormat } from './windows/event/index.ts';
import { zeekConnFormat } from './zeek-conn/index.ts';
import { ZEEK_LOG_FORMATS } from './zeek/index.ts';

/** Every sensor format the normalizer knows: one line per format. */
export const FORMATS: readonly SensorFormat[] = [zeekConnFormat, suricataEveFormat, windowsEventFormat, syslogFormat, cefFormat, netflowFlowFormat, ...ZEEK_LOG_FORMATS];
