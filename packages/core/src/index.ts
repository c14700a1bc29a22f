export { CORE_ERROR_CODES, MamoriError, ConfigError, errorCode, errorMessage, isRetryable, type CoreErrorCode } from './errors.ts';
export { EnvReader, deepFreeze, type Env } from './config.ts';
export { createLogger, silentLogger, type Logger } from './logger.ts';
export { Lifecycle, sleep, withTimeout, type Closeable } from './lifecycle.ts';
export { ipv4BytesToUint32, ipv4ToUint32 } from './ip.ts';
export { DATETIME64_MIN_MS, DATETIME64_MAX_MS } from './time.ts';
