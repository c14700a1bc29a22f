import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { runStorageContract } from '@mamori/storage/contract';
import { createChdbStorage } from '../src/index.ts';

const path = mkdtempSync(join(tmpdir(), 'mamori-chdb-contract-'));
afterAll(() => rmSync(path, { recursive: true, force: true }));

runStorageContract('chdb', (database) => createChdbStorage({ path, database }));
