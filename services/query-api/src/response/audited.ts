import { errorMessage, type Logger } from '@mamori/core';
import { appendAudit, type AuditEntry, type AuditInput, type StorageDriver } from '@mamori/storage';

/** Writes the audit entry of a change; the change's repository calls it right before its own insert. */
export type AuditWriter = (entry: AuditInput) => Promise<void>;

/**
 * Runs a change that must not exist without its audit entry. ClickHouse has no transaction over two
 * tables, so the entry goes first: `run` hands `audit` to the repository call (its `beforeWrite`),
 * which writes the entry once the change is validated and versioned and before the change itself.
 * If the change then fails (ClickHouse down, a racing writer took the version), a second entry,
 * `<action>.failed`, records that the first did not take effect, with the error as its reason.
 * So every stored change has its entry; an entry whose change failed is followed by its failure
 * entry, unless writing that fails too, which is logged with the entry's id.
 */
export async function auditedChange<T>(
  storage: StorageDriver,
  logger: Logger,
  run: (audit: AuditWriter) => Promise<T>,
): Promise<T> {
  let written: AuditEntry | undefined;
  try {
    return await run(async (entry) => {
      written = await appendAudit(storage, [entry.orgId], entry);
    });
  } catch (error) {
    if (written !== undefined) {
      const entry = written;
      try {
        await appendAudit(storage, [entry.orgId], {
          orgId: entry.orgId,
          actor: entry.actor,
          action: `${entry.action}.failed`,
          targetType: entry.targetType,
          targetId: entry.targetId,
          beforeJson: entry.beforeJson,
          afterJson: entry.afterJson,
          reason: `did not take effect: ${errorMessage(error)}`,
          requestId: entry.requestId,
        });
      } catch (second) {
        logger.error(
          { auditId: entry.id, action: entry.action, targetType: entry.targetType, targetId: entry.targetId, err: errorMessage(second) },
          'audit: a change failed after its audit entry was written, and its failure could not be recorded',
        );
      }
    }
    throw error;
  }
}
