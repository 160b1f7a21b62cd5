import type { FieldError } from './api-error.js';

const dns1123LabelPattern = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const dns1123SubdomainPattern = `${dns1123LabelPattern}(\\.${dns1123LabelPattern})*`;
const labelValuePattern = '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?';

/** apimachinery `IsDNS1123Label`: ≤63 chars, lowercase alphanumerics and '-'. */
export function validateDns1123Label(value: string, field: string): FieldError[] {
  const errors: FieldError[] = [];
  if (value.length > 63)
    errors.push({ field, type: 'FieldValueInvalid', value, detail: 'must be no more than 63 characters' });
  if (!new RegExp(`^${dns1123LabelPattern}$`).test(value)) {
    errors.push({
      field,
      type: 'FieldValueInvalid',
      value,
      detail: `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '${dns1123LabelPattern}')`,
    });
  }
  return errors;
}

/** apimachinery `IsDNS1123Subdomain`: ≤253 chars, dot-separated labels. */
export function validateDns1123Subdomain(value: string, field: string): FieldError[] {
  const errors: FieldError[] = [];
  if (value.length > 253)
    errors.push({ field, type: 'FieldValueInvalid', value, detail: 'must be no more than 253 characters' });
  if (!new RegExp(`^${dns1123SubdomainPattern}$`).test(value)) {
    errors.push({
      field,
      type: 'FieldValueInvalid',
      value,
      detail: `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${dns1123SubdomainPattern}')`,
    });
  }
  return errors;
}

/** apimachinery `IsValidLabelValue`: ≤63 chars, alphanumerics, '-', '_', '.'. */
export function validateLabelValue(value: string, field: string): FieldError[] {
  const errors: FieldError[] = [];
  if (value.length > 63)
    errors.push({ field, type: 'FieldValueInvalid', value, detail: 'must be no more than 63 characters' });
  if (!new RegExp(`^${labelValuePattern}$`).test(value)) {
    errors.push({
      field,
      type: 'FieldValueInvalid',
      value,
      detail: `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '${labelValuePattern}')`,
    });
  }
  return errors;
}

/** Validates every value of a label map (keys are checked for the qualified-name shape). */
export function validateLabels(labels: Record<string, string> | undefined, field: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (
      !/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(
        key,
      ) ||
      key.split('/').pop()!.length > 63
    ) {
      errors.push({
        field,
        type: 'FieldValueInvalid',
        value: key,
        detail:
          "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      });
    }
    errors.push(...validateLabelValue(value, field));
  }
  return errors;
}
