/** The users DEMO_MODE seeds and offers on the landing page. */
export const DEMO_USERS = [
  { id: "alice", name: "Alice Martin", email: "alice@example.com", role: "admin" },
  { id: "bob", name: "Bob Chen", email: "bob@example.com", role: "user" },
  { id: "carol", name: "Carol Díaz", email: "carol@example.com", role: "user" },
] as const;
