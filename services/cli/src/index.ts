export { loadRuntimeConfig, type RuntimeConfig } from './config.ts';
export { ALL_SERVICES, SERVICE_NAMES, parseServiceNames, startServices, type RunningServices, type ServiceName, type StartOptions } from './runtime.ts';
export { createStorage, createTransport } from './adapters.ts';
export { createApiKey } from './keys.ts';
export { huntEvents } from './hunt.ts';
