import type { SensorFormat } from '../types.ts';
import { zeekDceRpcFormat } from './dce_rpc/index.ts';
import { zeekDnsFormat } from './dns/index.ts';
import { zeekFilesFormat } from './files/index.ts';
import { zeekHttpFormat } from './http/index.ts';
import { zeekKerberosFormat } from './kerberos/index.ts';
import { zeekNoticeFormat } from './notice/index.ts';
import { zeekNtlmFormat } from './ntlm/index.ts';
import { zeekRdpFormat } from './rdp/index.ts';
import { zeekSmbFilesFormat } from './smb_files/index.ts';
import { zeekSmbMappingFormat } from './smb_mapping/index.ts';
import { zeekSshFormat } from './ssh/index.ts';
import { zeekSslFormat } from './ssl/index.ts';
import { zeekWeirdFormat } from './weird/index.ts';
import { zeekX509Format } from './x509/index.ts';

/** Every Zeek log type besides conn (`../zeek-conn/`), one module each under this folder. */
export const ZEEK_LOG_FORMATS: readonly SensorFormat[] = [
  zeekDnsFormat,
  zeekHttpFormat,
  zeekSslFormat,
  zeekX509Format,
  zeekSshFormat,
  zeekSmbFilesFormat,
  zeekSmbMappingFormat,
  zeekDceRpcFormat,
  zeekRdpFormat,
  zeekKerberosFormat,
  zeekNtlmFormat,
  zeekNoticeFormat,
  zeekWeirdFormat,
  zeekFilesFormat,
];

export {
  zeekDceRpcFormat,
  zeekDnsFormat,
  zeekFilesFormat,
  zeekHttpFormat,
  zeekKerberosFormat,
  zeekNoticeFormat,
  zeekNtlmFormat,
  zeekRdpFormat,
  zeekSmbFilesFormat,
  zeekSmbMappingFormat,
  zeekSshFormat,
  zeekSslFormat,
  zeekWeirdFormat,
  zeekX509Format,
};
export { zeekLogFormat, firstJsonEntry, type ZeekLogFormat, type ZeekLogSpec } from './format.ts';
export { flattenZeek, canonicalKey, FieldError, type ZeekRecord } from './fields.ts';
export {
  isZeekTsv,
  sniffZeekTsv,
  unescapeZeek,
  zeekTsvRecords,
  zeekTsvToJsonLines,
  ZeekTsvReader,
  type ZeekTsvError,
  type ZeekTsvJsonLine,
  type ZeekTsvRecord,
} from './tsv.ts';
