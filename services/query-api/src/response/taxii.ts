import { createHash, timingSafeEqual } from 'node:crypto';
import type { TaxiiPartner } from './response-config.ts';
import { MAMORI_STIX_NAMESPACE, uuidv5 } from './stix.ts';

export const TAXII_MEDIA_TYPE = 'application/taxii+json;version=2.1';
export const STIX_MEDIA_TYPE = 'application/stix+json;version=2.1';

/** A TAXII 2.1 error message (section 3.6.1). */
export function taxiiError(status: number, title: string, description: string): Record<string, unknown> {
  return { title, description, http_status: String(status) };
}

/**
 * Whether an Accept header admits the TAXII media type: absent, `*\/*`, `application/*`,
 * `application/taxii+json` without a version or with version 2.1.
 */
export function acceptsTaxii(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (type === '*/*' || type === 'application/*') return true;
    if (type !== 'application/taxii+json') return false;
    const version = params.find((p) => p.startsWith('version='));
    return version === undefined || version === 'version=2.1';
  });
}

/** The partner a request authenticates as: HTTP Basic (`<partner id>:<secret>`) or `Bearer <partner id>.<secret>`. */
export function authenticatePartner(partners: readonly TaxiiPartner[], authorization: string | undefined): TaxiiPartner | undefined {
  if (!authorization || authorization.length > 1024) return undefined;
  let id: string | undefined;
  let secret: string | undefined;
  const basic = /^Basic ([A-Za-z0-9+/=]{1,800})$/i.exec(authorization.trim());
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      id = decoded.slice(0, colon);
      secret = decoded.slice(colon + 1);
    }
  } else {
    const bearer = /^Bearer ([A-Za-z0-9._-]{1,64})\.([A-Za-z0-9_-]{16,256})$/.exec(authorization.trim());
    if (bearer) {
      id = bearer[1];
      secret = bearer[2];
    }
  }
  if (id === undefined || secret === undefined || secret.length === 0) return undefined;
  const partner = partners.find((p) => p.id === id);
  const presented = createHash('sha256').update(secret, 'utf8').digest();
  // Compare even for an unknown id, so timing does not reveal which partner ids exist.
  const expected = partner ? Buffer.from(partner.secretSha256, 'hex') : Buffer.alloc(32);
  return timingSafeEqual(presented, expected) && partner ? partner : undefined;
}

/** The id of a partner's collection: stable across restarts, unguessable from another partner's. */
export function collectionId(partner: TaxiiPartner): string {
  return uuidv5(MAMORI_STIX_NAMESPACE, `taxii-collection\u001f${partner.org}\u001f${partner.id}`);
}

/** Opaque `next` token: the (date_added, id) of the last object of a page. */
export function encodeNext(dateAdded: number, id: string): string {
  return Buffer.from(JSON.stringify([dateAdded, id])).toString('base64url');
}

export function decodeNext(token: string): { dateAdded: number; id: string } | undefined {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2 && Number.isFinite(value[0]) && typeof value[1] === 'string') return { dateAdded: value[0] as number, id: value[1] };
  } catch {
    // fall through
  }
  return undefined;
}

/** TAXII timestamps: RFC 3339 with millisecond precision. */
export function taxiiTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}
