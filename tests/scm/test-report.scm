;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; test-report.scm -- (instar report) and (instar process): JUnit XML,
;;; plain progress lines, and child processes with timeouts.
(use-modules (srfi srfi-64) (ice-9 textual-ports) (instar report) (instar process))

(define tmp (make-private-directory (or (getenv "TMPDIR") "/tmp") "instar-report-test."))

(test-begin "report")

(test-group "junit"
  (test-equal "escaping" "a&lt;b&gt;&amp;&quot;" (xml-escape "a<b>&\""))
  (let ((file (string-append tmp "/j.xml")))
    (write-junit file "resize-diff"
                 `(((name . "42:0 resize raw") (verdict . match) (time . 0.25)
                    (timestamp . 1796297675) (seed . 99))
                   ((name . "42:1 resize qcow2") (verdict . divergence) (time . 1.5)
                    (title . "qcow2 grow: info.virtual-size <differs>") (signature . "abc")
                    (diffs . ((("op" . "resize") ("oracle" . "info") ("field" . "virtual-size")
                               ("engine" . 1024) ("reference" . 2048))))
                    (replay . ("instar-fuzz replay abc --out o")))
                   ((name . "42:2 regrow qcow2") (verdict . inconclusive) (reason . "timeout"))
                   ((name . "42:3 resize vpc") (verdict . known) (rules . ("rule-a")))
                   ((name . "42:4 resize vpc") (verdict . refused) (reason . "vpc resize: unaligned")
                    (rules . ("refuses-unaligned")))
                   ((name . "42:5 resize raw") (verdict . inconclusive)
                    (reason . "internal error: wrong-type-arg")))
                 #:seconds 1.5 #:timestamp 1796297675 #:hostname "h"
                 #:properties '(("seed" . 42) ("engine" . "in-process")))
    (let ((xml (call-with-input-file file get-string-all)))
      (test-assert "counts" (string-contains xml "tests=\"6\" failures=\"1\" errors=\"1\" skipped=\"3\""))
      (test-assert "suite timestamp, UTC without a zone"
        (string-contains xml "timestamp=\"2026-12-03T11:34:35\""))
      (test-assert "suite properties" (string-contains xml "<property name=\"seed\" value=\"42\" />"))
      (test-assert "case time" (string-contains xml "name=\"42:0 resize raw\" time=\"0.250\""))
      (test-assert "case property: iteration seed"
        (string-contains xml "<property name=\"iteration-seed\" value=\"99\" />"))
      (test-assert "a failure per divergence, its title the message"
        (string-contains xml "<failure type=\"divergence\" message=\"qcow2 grow: info.virtual-size &lt;differs&gt;\">"))
      (test-assert "the failure body: differing field"
        (string-contains xml "resize info virtual-size: engine 1024, reference 2048"))
      (test-assert "the failure body: replay command"
        (string-contains xml "replay: instar-fuzz replay abc --out o"))
      (test-assert "inconclusive: skipped" (string-contains xml "<skipped message=\"inconclusive: timeout\" />"))
      (test-assert "whitelisted: skipped as known"
        (string-contains xml "<skipped message=\"known: rule-a\" />"))
      (test-assert "refused: skipped, with its rule"
        (string-contains xml "<skipped message=\"refused: vpc resize: unaligned (refuses-unaligned)\" />"))
      (test-assert "an internal error is an error"
        (string-contains xml "<error type=\"internal\" message=\"internal error: wrong-type-arg\">")))))

(test-group "progress"
  (let* ((file (string-append tmp "/p.txt"))
         (port (open-output-file file))
         (p (make-progress "t" 20 #:port port)))
    ;; A record, not a vector whose slots callers must count.
    (test-assert "a progress record" (and (progress? p) (not (vector? p))))
    (for-each (lambda (i) (progress-update! p i 0)) (iota 21))
    (close-port port)
    (let ((lines (string-split (string-trim-right (call-with-input-file file get-string-all))
                               #\newline)))
      (test-assert "plain lines off a terminal, about one per tenth" (<= 5 (length lines) 11))
      (test-assert "the last says all done" (string-prefix? "t: 20/20 done" (car (last-pair lines)))))))

(test-group "processes"
  (let ((r (run-command '("sh" "-c" "echo out; echo err >&2; exit 3") #:timeout 10)))
    (test-eq "error class" 'error (result-class r))
    (test-equal "status" 3 (result-status r))
    (test-equal "stdout" "out\n" (result-stdout r))
    (test-equal "stderr" "err\n" (result-stderr r)))
  (test-eq "ok" 'ok (result-class (run-command '("true"))))
  (let ((r (run-command '("sleep" "5") #:timeout 1)))
    (test-eq "killed after the timeout" 'timeout (result-class r))
    (test-assert "promptly" (< (result-seconds r) 3)))
  (test-eq "a program that does not exist" 'spawn-failed
    (result-class (run-command '("/nonexistent/instar-no-such-tool"))))
  (test-eq "killed by a signal" 'signal
    (result-class (run-command '("sh" "-c" "kill -9 $$")))))

(test-end "report")
(delete-tree tmp)
