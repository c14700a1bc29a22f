export type { InsertOptions, QueryOptions, QueryParams, StorageDriver } from './types.ts';
