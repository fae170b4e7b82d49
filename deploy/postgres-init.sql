-- Planka's own database beside OpenZero's (used only with --profile planka).
CREATE DATABASE planka;
