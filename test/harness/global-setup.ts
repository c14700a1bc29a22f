// Placeholder replaced by the harness: starts Kafka once per test run.
export default async function setup(): Promise<void> {}
