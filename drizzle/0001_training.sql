CREATE TABLE `predictions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`project_id` integer NOT NULL,
	`image_id` integer NOT NULL,
	`run_id` integer NOT NULL,
	`model_version` text NOT NULL,
	`probs` text NOT NULL,
	`top_class_id` integer NOT NULL,
	`confidence` real NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`image_id`) REFERENCES `images`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`run_id`) REFERENCES `training_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `predictions_project_run_confidence` ON `predictions` (`project_id`,`run_id`,`confidence`);--> statement-breakpoint
CREATE UNIQUE INDEX `predictions_run_image` ON `predictions` (`run_id`,`image_id`);--> statement-breakpoint
CREATE TABLE `training_progress` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` integer NOT NULL,
	`step` integer NOT NULL,
	`lr` real NOT NULL,
	`loss_sup` real NOT NULL,
	`loss_unsup` real,
	`mask_rate` real,
	`pseudo_acc` real,
	`heldout_acc` real,
	`images_per_s` real NOT NULL,
	`eta_s` real NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `training_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `training_progress_run` ON `training_progress` (`run_id`,`step`);--> statement-breakpoint
CREATE TABLE `training_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`project_id` integer NOT NULL,
	`job_id` integer,
	`mode` text NOT NULL,
	`status` text DEFAULT 'queued' NOT NULL,
	`config` text NOT NULL,
	`backend` text,
	`backend_reason` text,
	`model_version` text NOT NULL,
	`step` integer DEFAULT 0 NOT NULL,
	`total_steps` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`metrics` text,
	`error` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `training_runs_project` ON `training_runs` (`project_id`,`id`);