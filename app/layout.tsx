import type { Metadata } from "next";
import Link from "next/link";
import { GeistSans } from "geist/font/sans";
import { GeistMono } from "geist/font/mono";
import { Providers } from "./providers";
import "./globals.css";

export const metadata: Metadata = {
  title: "FixLabel",
  description: "Turn a pile of unlabeled images into a labeled image-classification dataset.",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en" className={`${GeistSans.variable} ${GeistMono.variable}`}>
      <body className="flex h-full flex-col font-sans">
        <header className="flex h-11 shrink-0 items-center gap-4 border-b border-zinc-800 bg-zinc-900 px-4">
          <Link href="/" className="text-sm font-semibold tracking-tight text-zinc-100 hover:text-white">
            FixLabel
          </Link>
        </header>
        <Providers>
          <main className="flex min-h-0 flex-1 flex-col">{children}</main>
        </Providers>
      </body>
    </html>
  );
}
