import { zeekLogFormat } from '../format.ts';
import { noticeSpec } from './decode.ts';

/** Zeek `notice.log` as JSON (any shape) or TSV: see README.md. */
export const zeekNoticeFormat = zeekLogFormat(noticeSpec);

export { noticeSpec } from './decode.ts';
