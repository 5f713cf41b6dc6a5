"""Holders: real-name enrolment, identity documents, masking, personal-data protection."""
