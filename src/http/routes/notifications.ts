import { z } from "zod";
import { CHANNEL_KINDS, EVENT_KINDS, SEVERITIES } from "../../core/notifications.ts";
import { channelChanges, channelInput, settingsInput } from "../../services/notifications.ts";
import type { ApiInstance, ServerContext } from "../context.ts";
import { ERROR_RESPONSES } from "../errors.ts";

/**
 * Notifications (docs/notifications.md): channels (secrets are written, never read back: the answer says
 * which are set), settings (digest time and zone, invoice due day, the web app's address for links), recent
 * deliveries, connection health and "Send test". Reads need any role; writes and tests need admin.
 */
const overrides = z.partialRecord(z.enum(EVENT_KINDS), z.enum([...SEVERITIES, "off"]));

const CHANNEL_META = { id: "NotificationChannel" };
const channelSchema = z
  .object({
    id: z.string(),
    kind: z.enum(CHANNEL_KINDS),
    name: z.string(),
    enabled: z.boolean(),
    minSeverity: z.enum(SEVERITIES),
    overrides,
    config: z.record(z.string(), z.unknown()),
    secretsSet: z.object({ password: z.boolean(), url: z.boolean(), signingSecret: z.boolean() }),
    webhookHost: z.string().nullable(),
    status: z.enum(["ok", "failing"]),
    failingSince: z.string().nullable(),
    consecutiveFailures: z.number(),
    lastError: z.string().nullable(),
    lastSentAt: z.string().nullable(),
  })
  .meta(CHANNEL_META);

const DELIVERY_META = { id: "NotificationDelivery" };
const deliverySchema = z
  .object({
    key: z.string(),
    channelId: z.string(),
    eventKind: z.string(),
    severity: z.string(),
    title: z.string(),
    status: z.enum(["queued", "sending", "sent", "failed", "uncertain"]),
    attempts: z.number(),
    lastError: z.string().nullable(),
    createdAt: z.string(),
    sentAt: z.string().nullable(),
  })
  .meta(DELIVERY_META);

const settingsSchema = z.object({
  digestEnabled: z.boolean(),
  digestTime: z.string(),
  digestTimeZone: z.string(),
  invoiceDueDay: z.number().nullable(),
  appUrl: z.string().nullable(),
  renewalReminderDays: z.number().nullable(),
});

const HEALTH_META = { id: "SubjectHealth" };
const healthSchema = z
  .object({
    subjectKind: z.enum(["connection", "source"]),
    subjectId: z.string(),
    name: z.string(),
    state: z.enum(["ok", "failing"]),
    failingSince: z.string().nullable(),
    lastSuccessAt: z.string().nullable(),
    lastFailureAt: z.string().nullable(),
    lastError: z.string().nullable(),
  })
  .meta(HEALTH_META);

const idParams = z.object({ id: z.string().min(1) });
const TAGS = ["notifications"];

export function registerNotificationRoutes(fastify: ApiInstance, ctx: ServerContext): void {
  const service = ctx.app.notifications;

  fastify.get(
    "/api/notifications/channels",
    {
      schema: {
        tags: TAGS,
        summary: "Notification channels (secrets are never returned: secretsSet says which are stored)",
        response: { 200: z.object({ channels: z.array(channelSchema) }), ...ERROR_RESPONSES },
      },
    },
    async () => ({ channels: await service.listChannels() }),
  );

  fastify.post(
    "/api/notifications/channels",
    {
      schema: {
        tags: TAGS,
        summary: "Add a channel (e-mail over SMTP, Teams, Slack or a signed generic webhook)",
        body: channelInput,
        response: { 201: channelSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => reply.code(201).send(await service.addChannel(request.body)),
  );

  fastify.patch(
    "/api/notifications/channels/:id",
    {
      schema: {
        tags: TAGS,
        summary: "Change a channel; secrets left out are kept. Saving puts a failing channel back to ok",
        params: idParams,
        body: channelChanges,
        response: { 200: channelSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => service.updateChannel(request.params.id, request.body),
  );

  fastify.delete(
    "/api/notifications/channels/:id",
    {
      schema: {
        tags: TAGS,
        summary: "Remove a channel",
        params: idParams,
        response: { 204: z.null(), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await service.removeChannel(request.params.id);
      return reply.code(204).send(null);
    },
  );

  fastify.post(
    "/api/notifications/channels/:id/test",
    {
      schema: {
        tags: TAGS,
        summary: "Send a test notification through this channel now",
        params: idParams,
        response: {
          200: z.object({
            key: z.string(),
            outcome: z.enum(["sent", "retry", "failed", "uncertain", "skipped"]),
            error: z.string().nullable(),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => service.sendTest(request.params.id),
  );

  fastify.get(
    "/api/notifications/deliveries",
    {
      schema: {
        tags: TAGS,
        summary: "The latest notifications and their delivery status, newest first",
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(500).default(50),
          channel: z.string().optional(),
        }),
        response: { 200: z.object({ deliveries: z.array(deliverySchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => ({ deliveries: await service.deliveries(request.query.limit, request.query.channel) }),
  );

  fastify.get(
    "/api/notifications/settings",
    {
      schema: {
        tags: TAGS,
        summary: "Digest time and zone, invoice due day, the web app's address for links",
        response: { 200: settingsSchema, ...ERROR_RESPONSES },
      },
    },
    async () => service.settings(),
  );

  fastify.put(
    "/api/notifications/settings",
    {
      schema: {
        tags: TAGS,
        summary: "Change the notification settings (the digest follows within a minute)",
        body: settingsInput,
        response: { 200: settingsSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => service.setSettings(request.body),
  );

  fastify.get(
    "/api/health/subjects",
    {
      schema: {
        tags: TAGS,
        summary: "Health of each PSA connection and data source: last success, failing since",
        response: { 200: z.object({ subjects: z.array(healthSchema) }), ...ERROR_RESPONSES },
      },
    },
    async () => ({ subjects: await service.health() }),
  );
}
