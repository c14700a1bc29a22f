import type { Logger } from '@mamori/core';
import kafkajs, { type logCreator as LogCreator } from 'kafkajs';

const { logLevel } = kafkajs;

/**
 * kafkajs reports, at ERROR level, things the adapter turns into thrown TransportErrors or that are
 * routine (a group rebalancing). Logging them too would log one problem many times.
 */
const ROUTINE = [
  /rebalancing/i,
  /Connection error/i,
  /Failed to connect/i,
  /Connection timeout/i,
  /Limiting retries for the idempotent producer/i,
  /Restarting the consumer/i,
  // The consumer's CRASH event is logged once by the adapter, with whether kafkajs restarts it.
  /^Crash: /,
];

/** Routes kafkajs's log lines into a pino logger instead of kafkajs's console logger. */
export function pinoLogCreator(logger: Logger): LogCreator {
  return () => ({ namespace, level, log }) => {
    const { message, timestamp: _timestamp, logger: _name, ...fields } = log as { message: string; timestamp?: string; logger?: string } & Record<string, unknown>;
    const context = { kafkajs: namespace, ...fields };
    // "Response X(...)" lines are protocol errors kafkajs retries itself; if retries run out the
    // adapter throws a TransportError carrying the same text.
    if ((namespace === 'Connection' && message.startsWith('Response ')) || ROUTINE.some((re) => re.test(message))) {
      logger.debug(context, message);
      return;
    }
    switch (level) {
      case logLevel.ERROR:
      case logLevel.NOTHING:
        logger.error(context, message);
        break;
      case logLevel.WARN:
        logger.warn(context, message);
        break;
      case logLevel.INFO:
        logger.info(context, message);
        break;
      default:
        logger.debug(context, message);
    }
  };
}
