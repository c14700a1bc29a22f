import { migration0001 } from './0001_events_detections.ts';
import { migration0002 } from './0002_event_search_columns.ts';
import { migration0003 } from './0003_triage_audit_indicators_decisions.ts';
import { migration0004 } from './0004_hourly_aggregates.ts';
import { migration0005 } from './0005_decision_versions.ts';
import { migration0006 } from './0006_entity_peer_port_hourly.ts';
import { migration0007 } from './0007_detection_heads.ts';
import { migration0008 } from './0008_detections_by_ip.ts';
import { migration0009 } from './0009_detection_heads_recent.ts';
import { migration0010 } from './0010_sensor_ingest_hourly.ts';
import { migration0011 } from './0011_entity_recent.ts';
import type { Migration } from './migration.ts';

/** Every migration, in order. Adding one: a new file `NNNN_name.ts` and one line here. */
export const MIGRATIONS: readonly Migration[] = [migration0001, migration0002, migration0003, migration0004, migration0005, migration0006, migration0007, migration0008, migration0009, migration0010, migration0011];
