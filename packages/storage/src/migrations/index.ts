import { migration0001 } from './0001_events_detections.ts';
import type { Migration } from './migration.ts';

/** Every migration, in order. Adding one: a new file `NNNN_name.ts` and one line here. */
export const MIGRATIONS: readonly Migration[] = [migration0001];
