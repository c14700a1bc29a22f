export { buildQueryApi, detectionJson, type QueryApiDeps } from './app.ts';
export { loadQueryApiConfig, type QueryApiConfig } from './config.ts';
export { ROLES, authenticate, hasRole, hashSecret, parseApiKeys, type ApiKey, type Principal, type Role } from './auth.ts';
