import { prisma } from "@/server/db";
import type { User, UserInput } from "@/server/users/users.schema";

/** Creates or updates a user's profile; omitted fields are left as they are. */
export async function upsertUser(userId: string, input: UserInput): Promise<User> {
  const row = await prisma.user.upsert({ where: { id: userId }, create: { id: userId, ...input }, update: input });
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    phone: row.phone,
    avatarUrl: row.avatarUrl,
    timezone: row.timezone,
    locale: row.locale,
    role: row.role === "admin" ? "admin" : "user",
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
