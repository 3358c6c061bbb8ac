/** Runs once when the Next.js server starts: validate the environment, check the bind, apply migrations. */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { getEnv } = await import("@/lib/env");
  const { currentBindProblem } = await import("@/lib/bind-check");
  const { getDb } = await import("@/lib/db/client");
  const { migrateDb } = await import("@/lib/db/migrate");
  const env = getEnv();
  // The rule "anything but loopback needs a token" holds for the socket, whatever FIXLABEL_HOST says.
  const problem = currentBindProblem(env.FIXLABEL_TOKEN);
  if (problem) {
    console.error(`FixLabel refuses to start: ${problem}`);
    process.exit(1);
  }
  if (env.FIXLABEL_TOKEN && env.FIXLABEL_ALLOWED_HOSTS.length === 0 && ["0.0.0.0", "::"].includes(env.FIXLABEL_HOST)) {
    console.warn(
      `FixLabel: listening on ${env.FIXLABEL_HOST}, but only loopback names are accepted as Host: list the names other machines use in FIXLABEL_ALLOWED_HOSTS`,
    );
  }
  migrateDb(getDb());
  const { cleanStaging } = await import("@/lib/jobs");
  const removed = await cleanStaging(getDb());
  if (removed.length) console.log(`FixLabel: removed ${removed.length} leftover staging file(s)`);
}
