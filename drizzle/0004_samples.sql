CREATE TABLE `training_samples` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` integer NOT NULL,
	`step` integer NOT NULL,
	`position` integer NOT NULL,
	`image_id` integer NOT NULL,
	`weak_ops` text NOT NULL,
	`strong_ops` text NOT NULL,
	`weak_class_index` integer NOT NULL,
	`weak_confidence` real NOT NULL,
	`threshold` real NOT NULL,
	`masked_in` integer NOT NULL,
	`strong_class_index` integer NOT NULL,
	`strong_confidence` real NOT NULL,
	`loss` real NOT NULL,
	`weak_path` text NOT NULL,
	`strong_path` text NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `training_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `training_samples_run_step` ON `training_samples` (`run_id`,`step`,`position`);--> statement-breakpoint
ALTER TABLE `projects` ADD `settings` text;--> statement-breakpoint
ALTER TABLE `training_progress` ADD `per_class` text;