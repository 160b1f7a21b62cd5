/**
 * Image references as the kubelet and containerd read them (`github.com/distribution/reference`):
 * the grammar, its error texts, and the normalized name containerd pulls
 * (`busybox` → `docker.io/library/busybox:latest`).
 */

const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const host = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tag = '[\\w][\\w.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const referencePattern = new RegExp(
  `^((?:${domainAndPort}/)?${pathComponent}(?:/${pathComponent})*)(?::(${tag}))?(?:@(${digest}))?$`,
);
const identifierPattern = /^[a-f0-9]{64}$/;

const defaultDomain = 'docker.io';

/** A parsed, normalized image reference. */
export interface ImageReference {
  /** Registry host (`docker.io`, `ghcr.io`, `localhost:5000`). */
  domain: string;
  /** Repository path within the registry (`library/busybox`). */
  path: string;
  tag?: string;
  digest?: string;
  /** What containerd pulls and reports: `docker.io/library/busybox:latest`. */
  normalized: string;
}

/** Thrown for references the kubelet refuses with `InvalidImageName`. */
export class InvalidImageReferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidImageReferenceError';
  }
}

/** distribution/reference `splitDockerDomain`. */
function splitDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = slash === -1 ? '' : name.slice(0, slash);
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = defaultDomain;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(slash + 1);
  }
  if (domain === 'index.docker.io') domain = defaultDomain;
  if (domain === defaultDomain && !remainder.includes('/')) remainder = `library/${remainder}`;
  return { domain, remainder };
}

/** distribution/reference `Parse`, with its error texts. */
function parseStrict(text: string): { name: string; tag?: string; digest?: string } {
  const match = referencePattern.exec(text);
  if (!match) {
    if (text === '') throw new InvalidImageReferenceError('repository name must have at least one component');
    if (referencePattern.test(text.toLowerCase()))
      throw new InvalidImageReferenceError('invalid reference format: repository name must be lowercase');
    throw new InvalidImageReferenceError('invalid reference format');
  }
  const [, name = '', tagPart, digestPart] = match;
  if (name.length > 255) throw new InvalidImageReferenceError('repository name must not be more than 255 characters');
  if (digestPart?.startsWith('sha256:') && digestPart.length !== 'sha256:'.length + 64) {
    throw new InvalidImageReferenceError('invalid checksum digest length');
  }
  return { name, tag: tagPart, digest: digestPart };
}

/**
 * `ParseNormalizedNamed` as the kubelet's `applyDefaultImageTag` calls it. Throws
 * {@link InvalidImageReferenceError} with the library's message.
 */
export function parseImageReference(image: string): ImageReference {
  if (identifierPattern.test(image)) {
    throw new InvalidImageReferenceError(
      `invalid repository name (${image}), cannot specify 64-byte hexadecimal strings`,
    );
  }
  const { domain, remainder } = splitDomain(image);
  const tagSep = remainder.indexOf(':');
  const remoteName = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remoteName.toLowerCase() !== remoteName) {
    throw new InvalidImageReferenceError('invalid reference format: repository name must be lowercase');
  }
  const parsed = parseStrict(`${domain}/${remainder}`);
  const path = parsed.name.slice(domain.length + 1);
  const tagged = parsed.tag ?? (parsed.digest ? undefined : 'latest');
  const normalized = `${domain}/${path}${tagged ? `:${tagged}` : ''}${parsed.digest ? `@${parsed.digest}` : ''}`;
  return { domain, path, tag: parsed.tag, digest: parsed.digest, normalized };
}

/** The kubelet's InvalidImageName message for `image`, or undefined when the reference parses. */
export function invalidImageNameMessage(image: string): string | undefined {
  try {
    parseImageReference(image);
    return undefined;
  } catch (err) {
    if (!(err instanceof InvalidImageReferenceError)) throw err;
    return `Failed to apply default image tag "${image}": couldn't parse image reference "${image}": ${err.message}`;
  }
}

/** The pull policy the API server defaults: `Always` for `:latest` or untagged images, else `IfNotPresent`. */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  // SetDefaults_Container via parsers.ParseImageName: no tag and no digest means "latest"; an
  // unparsable image has no tag at all, so it gets IfNotPresent (the kubelet rejects it later).
  try {
    const ref = parseImageReference(image);
    return (!ref.tag && !ref.digest) || ref.tag === 'latest' ? 'Always' : 'IfNotPresent';
  } catch (err) {
    if (err instanceof InvalidImageReferenceError) return 'IfNotPresent';
    throw err;
  }
}
