export { ChdbStorage, createChdbStorage, openChdbPath, type ChdbStorageOptions } from './chdb-storage.ts';
export { bindParameters } from './bind.ts';
