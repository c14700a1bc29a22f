import { readFileSync } from 'node:fs';
import { ConfigError, errorMessage } from '@mamori/core';
import type { Geo } from '@mamori/events';
import { Reader, type AsnResponse, type CityResponse } from 'maxmind';
import { isPublicAddress } from './addresses.ts';

/** Paths of MaxMind-format (`.mmdb`) databases; either may be absent. */
export interface GeoDatabases {
  /** GeoIP2/GeoLite2 City or Country (country and city names). */
  readonly cityDb?: string | undefined;
  /** GeoLite2 ASN (or any database with `autonomous_system_number`/`_organization`). */
  readonly asnDb?: string | undefined;
}

function openReader<T extends CityResponse | AsnResponse>(path: string, key: string): Reader<T> {
  try {
    return new Reader<T>(readFileSync(path));
  } catch (error) {
    throw new ConfigError(`${key}=${path} is not a readable MaxMind database (${errorMessage(error)})`, { cause: error });
  }
}

/**
 * GeoIP and ASN of public addresses from `.mmdb` files, read into memory once at start-up.
 * Private, loopback, link-local and other special-purpose addresses are never looked up.
 */
export class GeoLookup {
  private constructor(
    private readonly city: Reader<CityResponse> | undefined,
    private readonly asn: Reader<AsnResponse> | undefined,
  ) {}

  /** Opens the configured databases; undefined when neither is configured. Throws ConfigError for a bad file. */
  static open(dbs: GeoDatabases): GeoLookup | undefined {
    if (!dbs.cityDb && !dbs.asnDb) return undefined;
    return new GeoLookup(
      dbs.cityDb ? openReader<CityResponse>(dbs.cityDb, 'MAMORI_GEOIP_CITY_DB') : undefined,
      dbs.asnDb ? openReader<AsnResponse>(dbs.asnDb, 'MAMORI_GEOIP_ASN_DB') : undefined,
    );
  }

  /** Geo context of `ip`, or null when it is not public or no database knows it. */
  lookup(ip: string): Geo | null {
    if (!isPublicAddress(ip)) return null;
    let city: CityResponse | null = null;
    let asn: AsnResponse | null = null;
    try {
      city = this.city?.get(ip) ?? null;
      asn = this.asn?.get(ip) ?? null;
    } catch {
      // A corrupt record for one address must not stop the stream; the event just has no geo.
      return null;
    }
    const geo: Geo = {
      country_code: city?.country?.iso_code ?? city?.registered_country?.iso_code ?? null,
      city: city?.city?.names?.en ?? null,
      asn: asn?.autonomous_system_number ?? city?.traits?.autonomous_system_number ?? null,
      as_org: asn?.autonomous_system_organization ?? city?.traits?.autonomous_system_organization ?? null,
    };
    return geo.country_code === null && geo.city === null && geo.asn === null && geo.as_org === null ? null : geo;
  }
}
