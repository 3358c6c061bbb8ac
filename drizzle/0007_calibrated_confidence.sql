DROP INDEX `predictions_run_class_confidence`;--> statement-breakpoint
ALTER TABLE `predictions` ADD `calibrated_confidence` real;--> statement-breakpoint
CREATE INDEX `predictions_run_class_confidence` ON `predictions` (`run_id`,`top_class_id`,`confidence`,`image_id`,`calibrated_confidence`);