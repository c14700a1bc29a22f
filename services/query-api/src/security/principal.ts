import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { ROLES, type Role } from '../auth.ts';

/** Who is calling, after authentication (an API key or a verified JWT). */
export interface Principal {
  /** Stable, bounded-length identity for audit and rate limiting: `key:<id>` or `jwt:<sub>`. */
  id: string;
  kind: 'api_key' | 'jwt';
  role: Role;
  /** Organizations the caller may read and act on; `'*'` is every organization (coordinating team). */
  orgs: readonly string[] | '*';
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook on every `/v1/` route; absent elsewhere. */
    principal?: Principal;
  }
}

const RANK: Record<Role, number> = { viewer: 0, analyst: 1, approver: 2, admin: 3 };

export function hasRole(principal: Pick<Principal, 'role'>, required: Role): boolean {
  return RANK[principal.role] >= RANK[required];
}

/** The highest of several role names; undefined when none is a known role. */
export function highestRole(names: readonly unknown[]): Role | undefined {
  let best: Role | undefined;
  for (const name of names) {
    if (typeof name !== 'string' || !(ROLES as readonly string[]).includes(name)) continue;
    const role = name as Role;
    if (best === undefined || RANK[role] > RANK[best]) best = role;
  }
  return best;
}

/**
 * The organization filter for a repository query: `undefined` (no filter) only for `'*'`,
 * otherwise the caller's list. Pass it to every storage call; never build one from user input.
 */
export function orgScope(principal: Principal): readonly string[] | undefined {
  return principal.orgs === '*' ? undefined : principal.orgs;
}

/** Whether the caller may see or act on `orgId`. */
export function canAccessOrg(principal: Principal, orgId: string): boolean {
  return principal.orgs === '*' || principal.orgs.includes(orgId);
}

/** The authenticated caller of a `/v1/` route; throws when the authentication hook did not run. */
export function principalOf(request: FastifyRequest): Principal {
  const principal = request.principal;
  if (!principal) throw new Error('principalOf called on a route outside /v1/ (no authentication hook)');
  return principal;
}

/**
 * preHandler that lets the request through when the authenticated principal has at least `role`
 * (viewer < analyst < approver < admin), else answers 403. Authentication itself (401) happens
 * earlier, in the app's onRequest hook, for every `/v1/` route.
 */
export function requireRole(role: Role): preHandlerAsyncHookHandler {
  return async function roleGuard(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const principal = request.principal;
    if (!principal) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'a valid API key or token is required' });
      return;
    }
    if (!hasRole(principal, role)) {
      await reply.code(403).send({ error: 'forbidden', message: `requires role ${role}` });
    }
  };
}
