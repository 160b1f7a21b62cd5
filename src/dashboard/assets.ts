/**
 * The dashboard's browser assets, served from the package itself (no CDN, nothing fetched at run
 * time): `assets/dashboard.js` (a plain ES module, no build step) and `assets/dashboard.css`,
 * read once from beside this file — `src/dashboard/assets` under tsx, `dist/dashboard/assets`
 * once built (`npm run build` copies them).
 */
import { readFileSync } from 'node:fs';

/** The asset files, by the name they are served under. */
export const assetFiles = {
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
} as const;

export type AssetName = keyof typeof assetFiles;

/** An asset's bytes and type. */
export interface Asset {
  body: Buffer;
  type: string;
}

const cache = new Map<AssetName, Asset>();

/** The asset `name`, read on first use. */
export function asset(name: AssetName): Asset {
  let found = cache.get(name);
  if (!found) {
    found = { body: readFileSync(new URL(`./assets/${name}`, import.meta.url)), type: assetFiles[name] };
    cache.set(name, found);
  }
  return found;
}

/** Whether `name` is one of the assets. */
export function isAssetName(name: string): name is AssetName {
  return Object.hasOwn(assetFiles, name);
}
