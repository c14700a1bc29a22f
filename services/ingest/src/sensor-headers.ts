/** Headers an ingest entry point puts on every raw record. */
export const SENSOR_HEADERS = {
  /** Which sensor wrote the record; the sensor registry maps it to an organization and site. */
  sensorId: 'mamori.sensor_id',
  /** Source format when the entry point knows it, e.g. `zeek.conn`. */
  format: 'mamori.format',
} as const;
