;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar findings) -- signatures and the content-addressed finding store.
;;;
;;; A finding's signature is the xxh3-128 (32 hex digits) of the canonical
;;; shape of its divergence: the operation it showed after and the sorted
;;; diff keys (oracle, field, exit classes) -- never the seed or sizes, so
;;; one bug is one finding however often it is hit.
;;;
;;; Layout under an output directory OUT:
;;;   OUT/findings/SIG/finding.json   the first case seen: case, chain,
;;;                                   every oracle's output, seed, iteration
;;;   OUT/findings/SIG/repro.sh       standalone reproducer (qemu-img,
;;;                                   qemu-io and the engine's CLI)
;;;   OUT/findings/SIG/reduced.json   the reduced case
;;;   OUT/findings/SIG/hits/S-I.json  one file per (seed, iteration) hit
;;; Merging two output directories is a copy (cp -r A/findings B/): hits
;;; are separate files named by their seed and iteration, so counts add up
;;; and nothing is counted twice.

(define-module (instar findings)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 threads)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (ice-9 ftw)
  #:use-module (rnrs bytevectors)
  #:use-module (system foreign)
  #:use-module (json)
  #:use-module (instar process)
  #:use-module (instar chain)
  #:use-module (instar engine)
  #:use-module (instar oracles)
  #:use-module (instar util)
  ;; The file helpers live in (instar util); re-exported for the callers
  ;; that have always found them here.
  #:re-export (read-json-file write-json-file mkdir-p iso-time)
  #:export (canonical-shape
            signature
            xxh3-128-hex
            finding-directory
            finding-exists?
            store-finding!
            record-hit!
            finding-hit-count
            list-findings
            trace->json
            repro-script
            finding-title))

;;; Hashing: (instar core)'s xxh3-128 when the extension is loaded, else
;;; libxxhash through the FFI -- the same function, so signatures agree.

(define core-xxh3-128
  ;; Looked up by variable: a failed load can leave a half-made module.
  (let* ((m (false-if-exception (resolve-interface '(instar core))))
         (v (and m (module-variable m 'xxh3-128))))
    (and v (variable-bound? v) (variable-ref v))))

(define ffi-xxh3-128
  (delay
    (let* ((lib (dynamic-link "libxxhash"))
           (f (pointer->procedure (list uint64 uint64)
                                  (dynamic-func "XXH3_128bits" lib)
                                  (list '* size_t))))
      (lambda (bv)
        (let ((b (pointer->bytevector (f (bytevector->pointer bv) (bytevector-length bv)) 16)))
          ;; XXH128_hash_t is { low64, high64 }.
          (+ (ash (bytevector-u64-native-ref b 8) 64)
             (bytevector-u64-native-ref b 0)))))))

(define hash-mutex (make-mutex))

(define (xxh3-128-hex s)
  "The xxh3-128 of S (a string, hashed as UTF-8, or a bytevector) as 32
lower-case hex digits."
  (let ((bv (if (bytevector? s) s (string->utf8 s))))
    (format #f "~32,'0x"
            (if core-xxh3-128
                (core-xxh3-128 bv)
                (with-mutex hash-mutex ((force ffi-xxh3-128) bv))))))

(define (op-kind op)
  "resize-2 (the second resize of a chain) is still a resize."
  (let ((dash (string-rindex op #\-)))
    (if (and dash (string->number (substring op (+ dash 1))))
        (substring op 0 dash)
        op)))

(define (canonical-shape diffs)
  "op=OP|KEY|KEY... with the keys sorted and unique.  Exit-class keys name
the step kind too, so they go through `op-kind' as well."
  (let ((ops (delete-duplicates (map (lambda (d) (op-kind (assoc-ref d "op"))) diffs))))
    (string-join
     (cons (string-append "op=" (string-join (sort ops string<?) ","))
           (sort (delete-duplicates
                  (map (lambda (d)
                         (diff-key (map (lambda (kv)
                                          (if (member (car kv) '("op" "field"))
                                              (cons (car kv) (op-kind (->str (cdr kv))))
                                              kv))
                                        d)))
                       diffs))
                 string<?))
     "|")))

(define (->str v) (if (string? v) v (format #f "~a" v)))

(define (signature diffs)
  "The finding signature of DIFFS: the xxh3-128 (32 hex digits) of their
canonical shape, so one bug is one finding whatever the sizes."
  (xxh3-128-hex (canonical-shape diffs)))

;;; Titles.

(define (case-title case)
  (let ((fmt (or (assoc-ref case "format") "?"))
        (op (or (assoc-ref case "op") "?")))
    (cond
     ((equal? op "create") (string-append fmt " create"))
     ((equal? op "regrow") (string-append fmt " shrink and regrow"))
     ((equal? op "resize-held") (string-append fmt " resize of a held image"))
     (else
      (let* ((rs (assoc-ref case "resizes"))
             (r (and (vector? rs) (> (vector-length rs) 0) (vector-ref rs 0))))
        (string-append fmt (if (and r (eq? #t (assoc-ref r "shrink"))) " shrink" " grow")
                       (if (equal? op "resize-shared") " (shared start)" "")))))))

(define (diff-phrase d)
  (let ((oracle (assoc-ref d "oracle")) (field (assoc-ref d "field"))
        (e (assoc-ref d "engine")) (r (assoc-ref d "reference")))
    (cond
     ((equal? oracle "exit-class")
      (format #f "~a ~a where the reference gives ~a" field
              (if (equal? e "ok") "succeeds" (format #f "ends in ~a" e)) r))
     ((equal? oracle "data") "guest data differs")
     ((equal? oracle "length") "file length differs")
     ((equal? oracle "size") (format #f "wrong ~a" field))
     ((equal? oracle "check") (format #f "check ~a" (if (equal? field "clean") "not clean" field)))
     (else (format #f "~a.~a differs" oracle field)))))

(define (finding-title case diffs)
  "A readable title for a differential finding: the case's format and
operation, then its first difference (`qcow2 shrink: info.actual-size
differs'), and how many more; a refusal story (an engine accepting
what it must refuse, an unexpected refusal) as `refusal-title' in
(instar oracles) words it."
  (or (refusal-title case diffs)
      (let ((ps (delete-duplicates (map diff-phrase diffs))))
        (format #f "~a: ~a~a" (case-title case) (if (null? ps) "?" (car ps))
                (if (> (length ps) 1) (format #f " (+~a more)" (- (length ps) 1)) "")))))

;;; Files.

(define (finding-directory out sig)
  "The directory of finding SIG under the output directory OUT."
  (string-append out "/findings/" sig))

(define (finding-exists? out sig)
  "Whether OUT holds a stored finding SIG (its finding.json)."
  (file-exists? (string-append (finding-directory out sig) "/finding.json")))

(define (trace->json trace)
  "TRACE as JSON-ready data: a vector of (step side result) alists."
  (list->vector
   (map (match-lambda
          ((name side r)
           `(("step" . ,name) ("side" . ,side)
             ("result" . ,(if (result? r) (result->alist r) r)))))
        (trace-steps trace))))

(define* (record-hit! out sig seed iteration #:key (time (current-time)))
  "Record that iteration ITERATION of master seed SEED hit SIG: one file
per (seed, iteration), so the same hit is never counted twice and merging
two stores adds their distinct hits.  A hit seen again keeps the time it
was first seen."
  (let* ((dir (string-append (finding-directory out sig) "/hits"))
         (file (format #f "~a/~a-~a.json" dir seed iteration)))
    (mkdir-p dir)
    (unless (file-exists? file)
      (write-json-file file
                       `(("seed" . ,seed) ("iteration" . ,iteration)
                         ("time" . ,(iso-time time)))))))

(define (finding-hit-count out sig)
  "How many distinct hits (files under hits/) SIG has in OUT."
  (let ((dir (string-append (finding-directory out sig) "/hits")))
    (if (file-exists? dir)
        (length (scandir dir (lambda (f) (string-suffix? ".json" f))))
        0)))

(define (list-findings out)
  "The signatures of the findings stored under OUT/findings, sorted."
  (let ((dir (string-append out "/findings")))
    (if (file-exists? dir)
        (filter (lambda (f) (finding-exists? out f))
                (or (scandir dir (lambda (f) (not (member f '("." "..")))) string<?)
                    '()))
        '())))

(define* (store-finding! out sig #:key case chain trace diffs seed iteration
                         engine qemu-img qemu-io recipe (run-options '())
                         (kind "divergence") (title #f) (time (current-time))
                         (engine-identity #f) (reference-version #f))
  "Write finding.json and repro.sh for a new signature.  finding.json
follows the store's one schema (see (instar store)): id, kind, title,
first/last seen, hits, status, engine and reference identity, then what
this kind needs to replay it (the case, its chain, every output)."
  (let ((dir (finding-directory out sig)))
    (mkdir-p dir)
    (write-json-file (string-append dir "/finding.json")
                     `(("schema" . 2)
                       ("id" . ,sig)
                       ("signature" . ,sig)
                       ("kind" . ,kind)
                       ("title" . ,(or title (finding-title case diffs)))
                       ("status" . "open")
                       ("first-seen" . ,(iso-time time))
                       ("last-seen" . ,(iso-time time))
                       ("hits" . ,(finding-hit-count out sig))
                       ("shape" . ,(canonical-shape diffs))
                       ("title" . ,(finding-title case diffs))
                       ("recipe" . ,recipe)
                       ("seed" . ,seed)
                       ("iteration" . ,iteration)
                       ("replay" . ,(format #f "~a:~a" seed iteration))
                       ;; --ops/--formats: what S:I needs to pick this case again.
                       ("run-options" . ,run-options)
                       ("engine" . ,(or engine-identity
                                        `(("name" . ,(engine-name engine))
                                          ("kind" . ,(symbol->string (engine-kind engine)))
                                          ("program" . ,(engine-program engine)))))
                       ("reference" . ,(engine-program qemu-img))
                       ("reference-version" . ,(or reference-version 'null))
                       ("diffs" . ,(list->vector diffs))
                       ("case" . ,case)
                       ("chain" . ,(list->vector chain))
                       ("outputs" . ,(trace->json trace))))
    (let ((file (string-append dir "/repro.sh")))
      (call-with-output-file file
        (lambda (p)
          (display (repro-script chain #:engine engine #:qemu-img qemu-img
                                 #:qemu-io qemu-io #:title (canonical-shape diffs)
                                 #:replay (format #f "~a:~a" seed iteration))
                   p)))
      (chmod file #o755))))

;;; repro.sh

(define (absolute-program p)
  "P as an absolute file name when it names a file relative to the current
directory (so repro.sh works from anywhere); a bare name found on PATH, or
a missing file, is left as it is."
  (if (and (string? p) (string-index p #\/) (not (string-prefix? "/" p))
           (file-exists? p))
      (canonicalize-path p)
      p))

(define (sh-quote s)
  (string-append "'" (string-join (string-split s #\') "'\\''") "'"))

(define (sh-argv argv path-vars)
  "ARGV as shell words; image paths become \"$E\" / \"$R\"."
  (string-join (map (lambda (a)
                      (cond ((assoc a path-vars) => cdr)
                            (else (sh-quote a))))
                    argv)
               " "))

(define (hex->octal-escapes hex)
  "HEX (two digits a byte) as printf octal escapes."
  (string-concatenate
   (map (lambda (i)
          (let ((b (string->number (substring hex (* 2 i) (+ 2 (* 2 i))) 16)))
            (string #\\ (integer->char (+ 48 (quotient b 64)))
                    (integer->char (+ 48 (modulo (quotient b 8) 8)))
                    (integer->char (+ 48 (modulo b 8))))))
        (iota (quotient (string-length hex) 2)))))

;; The reproducer's exit-class bookkeeping: each side's step notes ok or
;; error in $classes; a step where one side failed and the other did not
;; sets status 1.
(define sh-note-class
  "[ $rc -eq 0 ] && classes=\"${classes}ok \" || classes=\"${classes}error \"")
(define sh-split-classes
  "case \"$classes\" in \"ok error \"|\"error ok \") status=1;; esac; classes=")

(define* (repro-script chain #:key engine qemu-img qemu-io title replay)
  "A shell script (a string) that reruns CHAIN with ENGINE and the
reference QEMU-IMG (QEMU-IO writes the patterns) and exits 1 when the
divergence TITLE shows again, 0 when it does not, 3 when a tool is
missing; REPLAY, the finding's signature, is quoted in its comments."
  (let* ((fmt (assoc-ref (car chain) "format"))
         (ext (format-extension fmt))
         (E "@E@") (R "@R@")
         (vars `((,E . "\"$E\"") (,R . "\"$R\"")))
         (lines '()))
    (define (emit . strs) (set! lines (cons (apply string-append strs) lines)))
    (define (path side) (if (equal? side "engine") E R))
    (define (tool-var side) (if (equal? side "engine") "\"$ENGINE\"" "\"$QEMU_IMG\""))
    (define (sides step)
      (match (assoc-ref step "side")
        ("both" '("engine" "reference")) (s (list s))))
    (define (tool-argv side argv)
      ;; Replace the program with the $ENGINE / $QEMU_IMG variable.
      (string-append (tool-var side) " " (sh-argv (cdr argv) vars)))
    (define (uses? names sides-wanted)
      (any (lambda (step)
             (and (member (assoc-ref step "step") names)
                  (or (not sides-wanted)
                      (member (or (assoc-ref step "side") "both") sides-wanted))))
           chain))
    (define (emit-classed-step step label argv-of after)
      ;; Each side of STEP runs (ARGV-OF side), echoes its exit status as
      ;; LABEL, runs the shell text (AFTER side) and notes its class; one
      ;; side failing alone then sets status 1.
      (for-each (lambda (side)
                  (emit (tool-argv side (argv-of side)) "; rc=$?; echo \"" side " " label
                        ": $rc\"; " (after side) sh-note-class))
                (sides step))
      (emit sh-split-classes))
    (emit "#!/bin/sh")
    (emit "# repro.sh -- standalone reproducer written by instar-fuzz.")
    (emit "# Divergence: " title)
    (emit "# Replay inside instar-fuzz: --replay " replay)
    (emit "# Runs from any directory (absolute tool paths, a private temporary")
    (emit "# directory).  Exit status 1 when the difference shows, 0 when it")
    (emit "# does not, 3 when a tool is missing (override QEMU_IMG, QEMU_IO, ENGINE).")
    (emit "set -u")
    (emit "QEMU_IMG=${QEMU_IMG:-" (sh-quote (absolute-program (engine-program qemu-img))) "}")
    (emit "QEMU_IO=${QEMU_IO:-" (sh-quote (absolute-program qemu-io)) "}")
    (emit "ENGINE=${ENGINE:-" (sh-quote (absolute-program (or (engine-program engine) "instar-img"))) "}")
    ;; A missing tool would show as a failed step, i.e. a false "bug".
    (emit "need() { command -v \"$2\" >/dev/null 2>&1 || { echo \"repro.sh: $1 not found: $2 (set $1)\" >&2; exit 3; }; }")
    (emit "need QEMU_IMG \"$QEMU_IMG\"")
    (when (uses? '("write-pattern" "verify" "hold") #f)
      (emit "need QEMU_IO \"$QEMU_IO\""))
    (when (uses? '("create" "resize") '("engine" "both"))
      (emit "need ENGINE \"$ENGINE\""))
    (emit "d=$(mktemp -d \"${TMPDIR:-/tmp}/instar-repro.XXXXXX\") || exit 3")
    (emit "trap 'rm -rf \"$d\"' EXIT")
    (emit "E=\"$d/engine." ext "\" R=\"$d/reference." ext "\" status=0")
    (emit "classes=")
    (for-each
     (lambda (step)
       (match (assoc-ref step "step")
         ("create"
          (emit-classed-step
           step "create"
           (lambda (side)
             (create-argv "x" fmt (path side) (assoc-ref step "size")
                          (assoc-ref step "options") (assoc-ref step "prealloc")))
           (const "")))
         ("write-pattern"
          (for-each (lambda (side)
                      (emit "\"$QEMU_IO\" " (sh-argv `("-f" ,fmt ,@(qemu-io-commands
                                                                     (assoc-ref step "patterns"))
                                                         ,(path side))
                                                       vars)
                            " >/dev/null"))
                    (sides step)))
         ("image-state"
          ;; qcow2 v3 incompatible_features: byte 79, bit 0 dirty, bit 1 corrupt.
          (match (assoc-ref step "state")
            ((or "snapshots" "v2-snapshots")
             (emit "\"$QEMU_IMG\" snapshot -c s1 \"$R\""))
            ("bitmaps" (emit "\"$QEMU_IMG\" bitmap --add -f " fmt " \"$R\" b0"))
            (bit
             (emit "b=$(od -An -tu1 -j79 -N1 \"$R\" | tr -d ' '); "
                   "printf \"\\$(printf %o $((b | " (if (equal? bit "dirty") "1" "2")
                   ")))\" | dd of=\"$R\" bs=1 seek=79 conv=notrunc status=none"))))
         ("import"
          ;; The start image from data: a hole of LENGTH bytes, then each
          ;; extent's bytes (octal escapes: printf is POSIX, xxd is not).
          (for-each (lambda (side)
                      (let ((v (if (equal? side "engine") "\"$E\"" "\"$R\"")))
                        (emit ": >" v "; truncate -s " (number->string (assoc-ref step "length"))
                              " " v)
                        (for-each (lambda (e)
                                    (emit "printf '" (hex->octal-escapes (assoc-ref e "hex"))
                                          "' | dd of=" v " bs=4096 oflag=seek_bytes seek="
                                          (number->string (assoc-ref e "offset"))
                                          " conv=notrunc status=none"))
                                  (vector->list (assoc-ref step "extents")))))
                    (sides step)))
         ("copy" (emit "cp --sparse=always \"$R\" \"$E\""))
         ("hold"
          ;; qemu-io holds each image open read-write on a FIFO (fds 3/4)
          ;; until release; ready once its locks show in /proc/locks.
          (for-each (lambda (side fd)
                      (let ((v (if (equal? side "engine") "E" "R")))
                        (emit "cp --sparse=always \"$" v "\" \"$" v ".held\"; "
                              "mkfifo \"$d/hold." v "\"; \"$QEMU_IO\" -f " fmt
                              " \"$" v "\" <\"$d/hold." v "\" >/dev/null 2>&1 & exec " fd
                              ">\"$d/hold." v "\"")
                        (emit "i=0; while ! grep -q \"OFDLCK.*:$(stat -c %i \"$" v "\") \" /proc/locks"
                              " && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done")))
                    (sides step) '("3" "4"))
          (emit "held=1"))
         ("release"
          (emit "echo quit >&3; echo quit >&4; exec 3>&- 4>&-; wait"))
         ("held-unchanged"
          (for-each (lambda (side)
                      (let ((v (if (equal? side "engine") "E" "R")))
                        (emit "cmp -s \"$" v ".held\" \"$" v "\" || { echo '" side
                              ": the held image changed'; status=1; }")))
                    (sides step)))
         ("external"
          ;; An independent reader: its JSON answer, for the eye.
          (for-each (lambda (side)
                      (emit (sh-argv (append (vector->list (assoc-ref step "argv"))
                                             (list (path side)))
                                     vars)))
                    (sides step)))
         ("verify"
          (for-each (lambda (side)
                      (emit "\"$QEMU_IO\" " (sh-argv `("-f" ,fmt
                                                         ,@(append-map (lambda (c) (list "-c" c))
                                                                       (vector->list (assoc-ref step "commands")))
                                                         ,(path side))
                                                       vars)
                            " 2>&1 | grep -i 'fail' && status=1"))
                    (sides step)))
         ("resize"
          (emit-classed-step
           step (assoc-ref step "name")
           (lambda (side)
             (resize-argv "x" fmt (path side) (assoc-ref step "spec")
                          (assoc-ref step "shrink") (assoc-ref step "prealloc")))
           (lambda (side)
             (string-append "[ $rc -eq 0 ] && [ \"${held:-0}\" = 1 ] && { echo '" side
                            " accepted a resize of a held image'; status=1; }; "))))
         ((or "info" "check")
          (=> skip)
          (if (equal? (assoc-ref step "side") "both")
              (skip)
              (emit "echo '== " (assoc-ref step "step") " (engine)'; \"$QEMU_IMG\" "
                    (assoc-ref step "step") " --output=json -f " fmt " \"$E\"")))
         ("info"
          (emit "for s in E R; do eval f=\\$$s; \"$QEMU_IMG\" info --output=json -f " fmt
                " \"$f\" | grep -v -e '\"filename\"' -e '\"actual-size\"' > \"$d/$s.info\"; done")
          (emit "echo '== info (engine vs reference)'; diff \"$d/E.info\" \"$d/R.info\" || status=1"))
         ("check"
          (emit "for s in E R; do eval f=\\$$s; \"$QEMU_IMG\" check --output=json -f " fmt
                " \"$f\" 2>&1 | grep -v -e '\"filename\"' -e '\"image-end-offset\"' -e '\"fragmented-clusters\"' > \"$d/$s.check\"; done")
          (emit "echo '== check (engine vs reference)'; diff \"$d/E.check\" \"$d/R.check\" || status=1"))
         ("compare"
          (emit "echo '== compare'; \"$QEMU_IMG\" compare -f " fmt " -F " fmt
                " \"$E\" \"$R\" || status=1"))
         ("usage"
          ;; The allocated bytes, for the eye (the tolerance is the oracle's).
          (emit "echo \"== usage: $(($(stat -c %b \"$E\") * 512)) vs $(($(stat -c %b \"$R\") * 512)) bytes allocated\""))
         ("create-backing"
          (let ((b (assoc-ref step "backing")))
            (emit "\"$QEMU_IMG\" create -q -f qcow2 \"$d/base.qcow2\" " (assoc-ref b "size"))
            (emit "\"$QEMU_IO\" " (sh-argv `("-f" "qcow2" ,@(qemu-io-commands (assoc-ref b "patterns")))
                                             vars)
                  " \"$d/base.qcow2\" >/dev/null")
            (emit "\"$QEMU_IMG\" create -q -f qcow2 -o "
                  (sh-quote (options->string
                             (append (or (assoc-ref step "options") '())
                                     (let ((p (assoc-ref step "prealloc")))
                                       (if (and (string? p) (not (equal? p "off")))
                                           `(("preallocation" . ,p)) '()))
                                     '(("backing_file" . "base.qcow2") ("backing_fmt" . "qcow2")))))
                  " \"$R\" " (assoc-ref step "size"))))
         ("length"
          (emit "echo \"== length: $(stat -c %s \"$E\") vs $(stat -c %s \"$R\")\"")
          (emit "[ \"$(stat -c %s \"$E\")\" = \"$(stat -c %s \"$R\")\" ] || status=1"))))
     chain)
    (emit "exit $status")
    (string-append (string-join (reverse lines) "\n") "\n")))
