// The notification type registry in PostgreSQL: list, read, upsert (a new template version whenever
// the templates change) and the version history.
import { AppError } from "@/server/app-error";
import { pool, withTransaction } from "@/server/db";
import { canonicalJson } from "@/server/notifications/canonical-json";
import type { Channel, Priority } from "@/server/notifications/notifications.schema";
import type { Templates, TypeInput } from "@/server/types/types.schema";

export type NotificationType = {
  key: string;
  name: string;
  category: string;
  priority: Priority;
  channels: Channel[];
  optOut: boolean;
  respectQuietHours: boolean;
  defaults: Partial<Record<Channel, boolean>>;
  aggregate: TypeInput["aggregate"];
  batch: TypeInput["batch"];
  limits: TypeInput["limits"];
  templates: Templates;
  locales: Record<string, Templates>;
  templateVersion: number;
  archived: boolean;
  createdAt: string;
  updatedAt: string;
};

type TypeRow = {
  key: string;
  name: string;
  category: string;
  priority: string;
  channels: string[];
  opt_out: boolean;
  respect_quiet_hours: boolean;
  defaults: NotificationType["defaults"];
  aggregate: NotificationType["aggregate"];
  batch: NotificationType["batch"];
  limits: NotificationType["limits"];
  templates: Templates;
  locales: Record<string, Templates>;
  template_version: number;
  archived_at: Date | null;
  created_at: Date;
  updated_at: Date;
};

const COLUMNS = `key, name, category, priority, channels, opt_out, respect_quiet_hours, defaults, aggregate, batch, limits,
                 templates, locales, template_version, archived_at, created_at, updated_at`;

function toType(row: TypeRow): NotificationType {
  return {
    key: row.key,
    name: row.name,
    category: row.category,
    priority: row.priority as Priority,
    channels: row.channels as Channel[],
    optOut: row.opt_out,
    respectQuietHours: row.respect_quiet_hours,
    defaults: row.defaults ?? {},
    aggregate: row.aggregate,
    batch: row.batch,
    limits: row.limits,
    templates: row.templates ?? {},
    locales: row.locales ?? {},
    templateVersion: row.template_version,
    archived: row.archived_at !== null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export async function listTypes(): Promise<NotificationType[]> {
  const { rows } = await pool.query<TypeRow>(`SELECT ${COLUMNS} FROM notification_types ORDER BY archived_at IS NOT NULL, key`);
  return rows.map(toType);
}

export async function findType(key: string): Promise<NotificationType | null> {
  const { rows } = await pool.query<TypeRow>(`SELECT ${COLUMNS} FROM notification_types WHERE key = $1`, [key]);
  return rows[0] ? toType(rows[0]) : null;
}

export async function getTypeOrThrow(key: string): Promise<NotificationType> {
  const type = await findType(key);
  if (!type) throw new AppError("not_found", `No notification type '${key}'.`);
  return type;
}

/**
 * Creates or replaces a type. When its templates (or locale variants) differ from the current ones,
 * they are saved as the next version, in the same transaction; a send records the version it used.
 */
export async function upsertType(key: string, input: TypeInput, savedBy: string): Promise<NotificationType> {
  return withTransaction(async (sql) => {
    const { rows: current } = await sql.query<TypeRow>(`SELECT ${COLUMNS} FROM notification_types WHERE key = $1 FOR UPDATE`, [key]);
    const before = current[0];
    const changed = !before || canonicalJson({ t: before.templates, l: before.locales }) !== canonicalJson({ t: input.templates, l: input.locales });
    const version = (before?.template_version ?? 0) + (changed ? 1 : 0);
    const { rows } = await sql.query<TypeRow>(
      `INSERT INTO notification_types AS nt (key, name, category, priority, channels, opt_out, respect_quiet_hours, defaults, aggregate, batch, limits,
                                             templates, locales, template_version, archived_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, CASE WHEN $15::boolean THEN now() END)
       ON CONFLICT (key) DO UPDATE SET name = excluded.name, category = excluded.category, priority = excluded.priority, channels = excluded.channels,
              opt_out = excluded.opt_out, respect_quiet_hours = excluded.respect_quiet_hours, defaults = excluded.defaults,
              aggregate = excluded.aggregate, batch = excluded.batch, limits = excluded.limits, templates = excluded.templates,
              locales = excluded.locales, template_version = excluded.template_version,
              archived_at = CASE WHEN $15::boolean THEN coalesce(nt.archived_at, now()) END, updated_at = now()
       RETURNING ${COLUMNS}`,
      [
        key,
        input.name,
        input.category,
        input.priority,
        input.channels,
        input.optOut,
        input.respectQuietHours,
        JSON.stringify(input.defaults),
        input.aggregate ? JSON.stringify(input.aggregate) : null,
        input.batch ? JSON.stringify(input.batch) : null,
        input.limits ? JSON.stringify(input.limits) : null,
        JSON.stringify(input.templates),
        JSON.stringify(input.locales),
        version,
        input.archived,
      ],
    );
    if (changed) {
      await sql.query("INSERT INTO template_versions (type_key, version, templates, locales, saved_by) VALUES ($1, $2, $3, $4, $5)", [
        key,
        version,
        JSON.stringify(input.templates),
        JSON.stringify(input.locales),
        savedBy,
      ]);
    }
    return toType(rows[0]!);
  });
}

export type TemplateVersion = { version: number; templates: Templates; locales: Record<string, Templates>; savedBy: string | null; createdAt: string };

export async function listTemplateVersions(key: string): Promise<TemplateVersion[]> {
  await getTypeOrThrow(key);
  const { rows } = await pool.query<{ version: number; templates: Templates; locales: Record<string, Templates>; saved_by: string | null; created_at: Date }>(
    "SELECT version, templates, locales, saved_by, created_at FROM template_versions WHERE type_key = $1 ORDER BY version DESC LIMIT 100",
    [key],
  );
  return rows.map((r) => ({ version: r.version, templates: r.templates, locales: r.locales, savedBy: r.saved_by, createdAt: r.created_at.toISOString() }));
}
