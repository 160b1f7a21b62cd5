/** The label and annotation keys by which k8s-jobs finds and recognises its own Jobs and Pods. */

export const managedByLabel = 'app.kubernetes.io/managed-by';
export const managedByValue = 'k8s-jobs';
/** Selects every Job and Pod a runner made (the one shared watch uses it). */
export const managedBySelector = `${managedByLabel}=${managedByValue}`;

/** Label with the task id (or, when the id is not a valid label value, the Job name). */
export const taskIdLabel = 'k8s-jobs.io/task-id';
/** Annotation with the full task id. */
export const taskIdAnnotation = 'k8s-jobs.io/task-id';
/** Annotation with the spec fingerprint: a Job with our name and this value is ours to adopt. */
export const fingerprintAnnotation = 'k8s-jobs.io/fingerprint';

/** The Job controller labels its pods with the Job's name under both keys (the short one is legacy). */
export const jobNameLabels = ['batch.kubernetes.io/job-name', 'job-name'] as const;

/** The one container of a task's pod. */
export const taskContainerName = 'task';
