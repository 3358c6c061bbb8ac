CREATE TABLE `proposal_audits` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`project_id` integer NOT NULL,
	`run_id` integer NOT NULL,
	`model_version` text NOT NULL,
	`image_id` integer NOT NULL,
	`proposed_class_id` integer NOT NULL,
	`confidence` real NOT NULL,
	`floor` real NOT NULL,
	`answer_class_id` integer NOT NULL,
	`correct` integer NOT NULL,
	`label_action_id` integer,
	`actor` text NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`run_id`) REFERENCES `training_runs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`image_id`) REFERENCES `images`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`label_action_id`) REFERENCES `label_actions`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `proposal_audits_run_image` ON `proposal_audits` (`run_id`,`image_id`);--> statement-breakpoint
CREATE INDEX `proposal_audits_project_run` ON `proposal_audits` (`project_id`,`run_id`);--> statement-breakpoint
ALTER TABLE `label_events` ADD `via` text;--> statement-breakpoint
ALTER TABLE `labels` ADD `via` text;--> statement-breakpoint
ALTER TABLE `projects` ADD `target_precision` real DEFAULT 0.95 NOT NULL;