import type { Config } from "tailwindcss";

// Loaded from app/globals.css with `@config`. The theme grows with the inbox UI.
const config: Config = {
  content: ["./app/**/*.{ts,tsx}", "./components/**/*.{ts,tsx}"],
  darkMode: "media",
  theme: {
    extend: {
      fontFamily: { sans: ["var(--font-inter)", "ui-sans-serif", "system-ui", "sans-serif"] },
      colors: {
        brand: { 50: "#eef4ff", 500: "#4f6bed", 600: "#3f55d4", 700: "#3345ad" },
      },
    },
  },
};

export default config;
