export { buildQueryApi, type QueryApiDeps } from './app.ts';
export { loadQueryApiConfig, type QueryApiConfig } from './config.ts';
export { ROLES, authenticate, hashSecret, parseApiKeys, type ApiKey, type Role } from './auth.ts';
export { detectionJson } from './routes/detections.ts';
export type { RegisterRoutes, RouteDeps } from './routes/deps.ts';
export { canAccessOrg, hasRole, orgScope, principalOf, requireRole, type Principal } from './security/principal.ts';
export { createAuthenticator, type AuthResult, type Authenticator } from './security/authenticator.ts';
export type { JwtConfig } from './security/jwt.ts';
