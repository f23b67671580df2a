// Command pipepeer is a client of procd for the local fast path's tests
// (internal/integration): it offers procd pipes of its own in an Attach
// that starts a process, then prints procd's answer to the offer as one
// line, "taken" or "refused: REASON", and what the process wrote.
//
//	pipepeer SOCKET nondumpable   # first makes itself non-dumpable
//	pipepeer SOCKET blocking      # then clears O_NONBLOCK on its copies and never reads
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/procd/procd/proto/procd/v1"
)

func main() {
	sock, mode := os.Args[1], os.Args[2]
	cc, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fail(err)
	}
	c := pb.NewProcessServiceClient(cc)
	st, err := c.Attach(context.Background())
	if err != nil {
		fail(err)
	}
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	cmd := "echo from-the-process"
	if mode == "blocking" {
		cmd = "head -c 10000000 /dev/zero"
	}
	spec := &pb.ProcessSpec{Command: []string{"sh", "-c", cmd}, BindToSession: true}
	lp := &pb.LocalPipes{Stdout: int32(outW.Fd()), Stderr: int32(errW.Fd())}
	if err := st.Send(&pb.AttachRequest{Kind: &pb.AttachRequest_Start{Start: &pb.AttachStart{
		Target: &pb.AttachStart_Spec{Spec: spec}, LocalPipes: lp}}}); err != nil {
		fail(err)
	}
	if mode == "nondumpable" {
		// Only now: the kernel recorded this process at connect time; a
		// process that is not dumpable lets no one of its uid (without
		// CAP_SYS_PTRACE) take its descriptors.
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
			fail(err)
		}
	}
	m, err := st.Recv()
	if err != nil {
		fail(err)
	}
	if a := m.GetLocalPipes(); a.GetTaken() {
		fmt.Println("taken")
	} else {
		fmt.Println("refused:", a.GetReason())
	}
	if mode == "blocking" {
		// Our copy of the write end procd took: were its open file
		// description shared with procd's, procd's writes would block too.
		unix.SetNonblock(int(outW.Fd()), false)
	}
	outW.Close()
	errW.Close()
	if mode == "blocking" {
		fmt.Println("holding")
		time.Sleep(time.Hour) // read nothing; the test kills us
	}
	for {
		m, err := st.Recv()
		if err != nil || m.GetExit() != nil {
			break
		}
		os.Stdout.Write(m.GetOutput().GetData())
	}
	buf := make([]byte, 4096)
	n, _ := outR.Read(buf)
	os.Stdout.Write(buf[:n])
	errR.Close()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "pipepeer:", err)
	os.Exit(1)
}
