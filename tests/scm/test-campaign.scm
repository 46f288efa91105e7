;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; test-campaign.scm -- (instar campaign) without an engine: how the
;;; iterations split, when a shard is complete, campaign.json refusals,
;;; the arguments handed to sbatch scripts and to GNU parallel, and the
;;; merge of shard summaries into one run's findings.
(use-modules (srfi srfi-64) (srfi srfi-1) (ice-9 textual-ports) (ice-9 popen) (json)
             (instar campaign) (instar findings) (instar process))

(define tmp (make-private-directory (or (getenv "TMPDIR") "/tmp") "instar-campaign-test."))
(define (by-key al) (sort al (lambda (a b) (string<? (car a) (car b)))))
(define (camp dir m n . args)
  (make-campaign (string-append tmp "/" dir) "resize-diff" 7 m n args))

(define (write-summary! c k . fields)
  "A summary.json for shard K of C: complete unless FIELDS override."
  (let ((dir (shard-directory c k)))
    (mkdir-p dir)
    (write-json-file (string-append dir "/summary.json")
                     (fold (lambda (kv acc) (cons kv (alist-delete (car kv) acc)))
                           `(("seed" . 7) ("shard" . ,(format #f "~a/~a" k (campaign-shards c)))
                             ("iterations" . ,(shard-iterations c k))
                             ("iterations-run" . ,(shard-iterations c k))
                             ("interrupted" . #f) ("environment-error" . null)
                             ("verdicts" . (("match" . 1) ("divergence" . 1)))
                             ("findings" . #()))
                           fields))))

(test-begin "campaign")

(test-group "shares"
  (for-each
   (lambda (m n)
     (let ((c (camp "x" m n)))
       (test-equal (format #f "~a iterations in ~a shards: all of them, once" m n)
         m (apply + (map (lambda (k) (shard-iterations c k)) (iota n 1))))
       (test-equal (format #f "~a in ~a: shard k has the i with i mod n = k-1" m n)
         (map (lambda (k) (count (lambda (i) (= (modulo i n) (- k 1))) (iota m))) (iota n 1))
         (map (lambda (k) (shard-iterations c k)) (iota n 1)))))
   '(16 17 3 0 1000)
   '(4 4 8 2 7)))

(test-group "complete shards"
  (let ((c (camp "c" 10 4)))
    (test-equal "no summary: every shard to run" '(1 2 3 4) (incomplete-shards c))
    (write-summary! c 1)
    (write-summary! c 2 '("interrupted" . #t))
    (write-summary! c 3 `("iterations-run" . ,(- (shard-iterations c 3) 1)))
    (write-summary! c 4 '("environment-error" . "qemu-img missing"))
    (test-equal "interrupted, short or broken shards run again" '(2 3 4) (incomplete-shards c))
    (write-summary! c 2 '("seed" . 8))
    (write-summary! c 3 '("shard" . "3/5"))
    (write-summary! c 4)
    (test-equal "another seed's or split's summary is not this shard's" '(2 3)
      (incomplete-shards c))))

(test-group "campaign.json"
  (let ((c (camp "j" 10 2 "--formats" "raw")))
    (test-eq "first: recorded" #t (open-campaign! c))
    (test-eq "the same again: resumed" #t (open-campaign! (camp "j" 10 2 "--formats" "raw")))
    (let ((before (call-with-input-file (string-append tmp "/j/campaign.json") get-string-all)))
      (test-assert "other options: refused with the reason"
        (string-contains (open-campaign! (camp "j" 10 2 "--formats" "qcow2"))
                         "holds another campaign"))
      (test-assert "another shard count: refused" (string? (open-campaign! (camp "j" 10 3))))
      (test-equal "a refusal writes nothing" before
        (call-with-input-file (string-append tmp "/j/campaign.json") get-string-all)))
    (test-equal "read back" '("resize-diff" 7 10 2 ("--formats" "raw"))
      (let ((r (read-campaign (string-append tmp "/j"))))
        (list (campaign-recipe r) (campaign-seed r) (campaign-iterations r)
              (campaign-shards r) (campaign-args r))))))

(test-group "arguments"
  (let ((c (camp "a" 16 4 "--formats" "raw" "--instar" "/a b/it's")))
    (test-equal "a shard's run"
      (list "resize-diff" "--seed" "7" "--iterations" "16" "--shard" "3/4"
            "--out" (string-append tmp "/a/shards/3") "--formats" "raw" "--instar" "/a b/it's")
      (shard-run-arguments c 3))
    (test-equal "shell-quote: one word whatever it holds"
      "/a b/it's $HOME `x`"
      (let* ((p (open-pipe* OPEN_READ "sh" "-c"
                            (string-append "printf %s " (shell-quote "/a b/it's $HOME `x`"))))
             (s (get-string-all p)))
        (close-pipe p)
        s))
    (let ((scripts (slurm-scripts! c "/opt/my instar/bin/instar-fuzz")))
      (test-assert "the shard script runs the task's shard of this campaign"
        (string-contains (call-with-input-file (car scripts) get-string-all)
                         (string-append "exec '/opt/my instar/bin/instar-fuzz' campaign run-shard '"
                                        tmp "/a' \"${SLURM_ARRAY_TASK_ID")))
      (test-assert "scripts are executable" (access? (cdr scripts) X_OK)))
    (let ((argv (parallel-arguments c '(2 4) #:sshloginfile "/h" #:ssh "ssh -p 2"
                                    #:transferfile "/b/build" #:joblog "/j")))
      (test-equal "parallel: the transferred file relative to the work directory"
        "/b/./build" (cadr (member "--transferfile" argv)))
      (test-assert "parallel: run as ./build, each argument quoted (-q)"
        (and (member "-q" argv) (member "./build" argv)))
      (test-equal "parallel: --shard {}/N, --out {}, returned, then the shards"
        '("{}/4" "{}" "{}" ("2" "4"))
        (list (cadr (member "--shard" argv)) (cadr (member "--out" argv))
              (cadr (member "--return" argv)) (cdr (member ":::" argv))))
      (test-assert "parallel: the recipe options as separate arguments"
        (member "/a b/it's" argv)))))

(test-group "merge"
  (let ((c (camp "m" 8 2)))
    (open-campaign! c)
    (define (f sig hits first title)
      `(("signature" . ,sig) ("shape" . ,(string-append "shape-" sig)) ("title" . ,title)
        ("new" . #t) ("hits" . ,hits) ("total-hits" . ,hits) ("first-iteration" . ,first)))
    (write-summary! c 1 `("findings" . ,(vector (f "bb" 2 4 "b from 1") (f "aa" 1 6 "a from 1")))
                    '("verdicts" . (("match" . 2) ("divergence" . 2)))
                    '("whitelist" . (("r1" . 1))))
    (write-summary! c 2 `("findings" . ,(vector (f "aa" 3 1 "a from 2")))
                    '("verdicts" . (("match" . 1) ("divergence" . 3)))
                    '("whitelist" . (("r1" . 2) ("r2" . 1))))
    (let ((s (merge-campaign! c)))
      (test-equal "findings in first-iteration order, hits added, the first hit's title"
        '(("aa" 4 1 "a from 2") ("bb" 2 4 "b from 1"))
        (map (lambda (x) (list (assoc-ref x "signature") (assoc-ref x "hits")
                               (assoc-ref x "first-iteration") (assoc-ref x "title")))
             (vector->list (assoc-ref s "findings"))))
      ;; (key order is the JSON reader's, not meaningful)
      (test-equal "verdicts added" '(("divergence" . 5) ("match" . 3)) (by-key (assoc-ref s "verdicts")))
      (test-equal "whitelist hits added" '(("r1" . 3) ("r2" . 1)) (by-key (assoc-ref s "whitelist")))
      (test-equal "iterations run: the shards' sum" 8 (assoc-ref s "iterations-run"))
      (test-eq "complete" #t (assoc-ref s "complete"))
      (test-assert "written to merged/summary.json"
        (file-exists? (string-append tmp "/m/merged/summary.json"))))
    (delete-file (string-append (shard-directory c 2) "/summary.json"))
    (let ((s (merge-campaign! c)))
      (test-equal "a shard without summary: incomplete, named" '(#f #(2))
        (list (assoc-ref s "complete") (assoc-ref s "incomplete-shards"))))))

(test-end "campaign")
(delete-tree tmp)
