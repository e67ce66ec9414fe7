import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { IssuancePolicy } from '../enrolment/context.ts';
import type { EnrolmentService } from '../enrolment/service.ts';
import type { PublishedReads } from '../publishers/publish.ts';
import type { SessionRecords, StoreReads } from '../store/views.ts';

/**
 * Everything the HTTP tier holds (built in src/main.ts): enrolment functions bound to their
 * context, read-only views of the store and of what was published, and its session rows. Never
 * the keyring, the writable store or the publisher itself: no route can sign or change state
 * except through an enrolment function, and a public GET serves what was published.
 */
export interface HttpCapabilities {
  enrolment: EnrolmentService;
  reads: StoreReads;
  published: PublishedReads;
  sessions: SessionRecords;
  clock: Clock;
  log: Logger;
  /** When renewal opens, for the portal's certificate list. */
  renewal: Pick<IssuancePolicy, 'renewalWindowDays'>;
}
